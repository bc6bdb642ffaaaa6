/** Records the provider events a client sees, in order, and waits for the next one of a kind. */
export interface EventRecord {
  type: string;
  details: { flagsChanged?: string[]; message?: string; errorCode?: string } | undefined;
}

export const EVENT = {
  ready: "PROVIDER_READY",
  stale: "PROVIDER_STALE",
  error: "PROVIDER_ERROR",
  changed: "PROVIDER_CONFIGURATION_CHANGED",
} as const;

/** A server-sdk or web-sdk client: its addHandler overloads differ, only the call matters here. */
type Eventing = { addHandler: (...args: any[]) => void };

export function recordEvents(client: Eventing, types: string[] = Object.values(EVENT)) {
  const seen: EventRecord[] = [];
  const waiters = new Set<() => void>();
  for (const type of types) {
    client.addHandler(
      type as never,
      ((details?: EventRecord["details"]) => {
        seen.push({ type, details });
        for (const wake of waiters) wake();
      }) as never,
    );
  }
  return {
    seen,
    types: () => seen.map((event) => event.type),
    /** Resolves with the index of the first event of `type` at or after index `from`. */
    async next(type: string, from = 0, timeoutMs = 15_000): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = seen.findIndex((event, i) => i >= from && event.type === type);
        if (index >= 0) return index;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
  };
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
