import { Writable } from "node:stream";

/** The 8 NUL bytes Lambda's runtime writes between the HTTP prelude and the body. */
const DELIMITER = Buffer.alloc(8);

/**
 * Stands in for the `awslambda` global of Lambda's Node.js runtime, which a streaming handler
 * needs at cold start: `streamifyResponse` returns the handler as it is (the runtime calls it with
 * `(event, responseStream, context)`), and `HttpResponseStream.from` writes the prelude — the JSON
 * of `{statusCode, headers}`, then 8 NUL bytes — before anything else, as the runtime does
 * (aws-lambda-nodejs-runtime-interface-client, HttpResponseStream.js), which is the format API
 * Gateway's Lambda proxy integration for response streaming reads.
 */
export function installAwsLambdaGlobal(): void {
  const global = globalThis as unknown as { awslambda?: Record<string, unknown> };
  // Packages may have made the object already (Powertools keeps its invoke store on it).
  global.awslambda ??= {};
  global.awslambda.streamifyResponse ??= <T>(handler: T): T => handler;
  global.awslambda.HttpResponseStream ??= {
    from(stream: Writable, prelude: Record<string, unknown>): Writable {
      stream.write(JSON.stringify(prelude));
      stream.write(DELIMITER);
      return stream;
    },
  };
}

/** A response stream that keeps what a streaming handler writes, as API Gateway would read it. */
export function collectingResponseStream() {
  const chunks: Buffer[] = [];
  const waiters: Array<() => void> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      for (const waiter of waiters.splice(0)) waiter();
      callback();
    },
  });
  const parts = () => {
    const all = Buffer.concat(chunks);
    const at = all.indexOf(DELIMITER);
    if (at < 0) return undefined;
    return { prelude: JSON.parse(all.subarray(0, at).toString("utf8")), body: all.subarray(at + 8).toString("utf8") };
  };
  return {
    stream,
    /** The prelude and the body so far; undefined before the prelude is complete. */
    parts,
    /** Waits until the body so far satisfies `check`, or fails after `ms`. */
    async until(check: (body: string) => boolean, ms = 3000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        const body = parts()?.body ?? "";
        if (check(body)) return body;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`not within ${ms} ms; body so far: ${JSON.stringify(body)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    /** The client goes away: API Gateway closes the stream. */
    disconnect: () => stream.destroy(),
  };
}
