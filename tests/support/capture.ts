/** Collects what the code under test writes to stdout and stderr (Powertools Logger uses both). */
export async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  let output = "";
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      output += chunk.toString();
      return true;
    }) as typeof stream.write;
  }
  try {
    return { result: await run(), output };
  } finally {
    streams.forEach((stream, i) => (stream.write = originals[i]));
  }
}
