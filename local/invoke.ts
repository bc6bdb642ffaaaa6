/** Retries Lambda gives a failed asynchronous invocation before its on-failure destination. */
export const ASYNC_RETRY_ATTEMPTS = 2;

export interface AsyncInvoker<E> {
  /** Queues one invocation and returns at once, as Invoke with InvocationType Event does. */
  invoke(event: E): Promise<void>;
  /** Resolves when every queued invocation has finished, its retries included. */
  drain(): Promise<void>;
}

/**
 * Lambda's asynchronous invocation, in process: the handler runs after the caller got its answer;
 * a failure is retried `ASYNC_RETRY_ATTEMPTS` times with a pause (Lambda waits 1 minute, then 2;
 * here `retryDelayMs`, then twice that), then the event goes to `onDiscard` (on AWS: the
 * dead-letter queue).
 */
export function makeAsyncInvoker<E>(
  handler: (event: E) => Promise<unknown>,
  options: { retryDelayMs?: number; onDiscard?: (event: E, error: unknown) => void } = {},
): AsyncInvoker<E> {
  const running = new Set<Promise<void>>();
  const attempt = async (event: E) => {
    for (let retry = 0; ; retry++) {
      try {
        await handler(event);
        return;
      } catch (error) {
        if (retry >= ASYNC_RETRY_ATTEMPTS) {
          options.onDiscard?.(event, error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 250) * 2 ** retry));
      }
    }
  };
  return {
    async invoke(event) {
      const run = attempt(event).finally(() => running.delete(run));
      running.add(run);
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
