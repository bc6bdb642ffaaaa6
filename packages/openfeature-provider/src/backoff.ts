/** Reconnect delays: exponential, capped, with full jitter so clients cut off together do not return together. */
export interface BackoffOptions {
  /** The first attempt's upper bound. Default 500 ms. */
  initialMs?: number;
  /** The cap. Default 30 s. */
  maxMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): uniformly random in
 * [0, min(maxMs, initialMs × 2^attempt)] — "full jitter" as AWS's architecture blog names it.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  // Not exponential-backoff (+8.1 KB minified in every app's bundle, browsers included): it retries
  // a promise-returning function, while sync.ts schedules reconnects from socket events.
  const { initialMs = 500, maxMs = 30_000 } = options;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
