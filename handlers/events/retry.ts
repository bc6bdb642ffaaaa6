/**
 * When webhook deliveries are tried again. On AWS a failed delivery stays in its FIFO queue,
 * hidden for a growing delay (its visibility), holding back only the later events of its group;
 * after `MAX_RECEIVES` attempts SQS moves it to the dead-letter queue (whose alarm pages someone).
 */

/** Attempts on AWS before a delivery is dead-lettered. */
export const MAX_RECEIVES = 11;
/** The first retry's delay, doubled each time up to `MAX_DELAY_SECONDS`. */
export const FIRST_DELAY_SECONDS = 15;
export const MAX_DELAY_SECONDS = 900;

/** Seconds before the next attempt after the `attempt`-th (1-based) failed: 15, 30, 60, … 900. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** Math.max(0, attempt - 1));
}

/**
 * Seconds from the first attempt to the last on AWS: 15 + 30 + … (capped at 900) over
 * MAX_RECEIVES − 1 waits = 4,545 s, over an hour (CONTRACT.md: "at least an hour").
 */
export function retrySpanSeconds(attempts = MAX_RECEIVES): number {
  let total = 0;
  for (let attempt = 1; attempt < attempts; attempt++) total += retryDelaySeconds(attempt);
  return total;
}

/**
 * The local runtime's waits between attempts: 6 attempts over 62 s (CONTRACT.md: "at least 5
 * tries over at least a minute").
 */
export const LOCAL_RETRY_DELAYS_MS: readonly number[] = [2_000, 4_000, 8_000, 16_000, 32_000];
