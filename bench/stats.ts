/** The p-th percentile (nearest rank) of some samples. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Sends `n` requests one after another; each must answer `ok`. Returns each one's latency in ms. */
export async function sequentialLatencies(
  label: string,
  n: number,
  request: (i: number) => Promise<{ status: number }>,
  ok: number,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const result = await request(i);
    samples.push(performance.now() - started);
    if (result.status !== ok) throw new Error(`${label}: ${result.status}`);
  }
  return samples;
}
