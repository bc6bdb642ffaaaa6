/**
 * The local runtime's stand-in for EventBridge Scheduler: a timer per pending schedule (and per
 * running rollout's next step), invoking
 * the same runner the Lambda runs. Schedules live in DynamoDB Local, so they outlive the process:
 * at start every pending one is armed again, and one already due (it came due while the runtime
 * was down) runs at once. The runner applies a schedule once however often it runs.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { ClockEvent, ScheduleClock } from "../handlers/schedules/clock";

/** setTimeout's longest delay (about 24.8 days); a later schedule waits in steps of it. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A run that meets a fault (DynamoDB Local restarting) is tried again, as Scheduler retries. */
const RETRY_MS = 1_000;
const MAX_ATTEMPTS = 30;

/** What the clock arms at start: every pending schedule, every running rollout's next step. */
export type PendingArms = () => Promise<Array<Parameters<ScheduleClock["arm"]>[0]>>;

export interface LocalClock extends ScheduleClock {
  /** Arms everything `pending` lists (pending schedules, rollouts' next steps); runs the due ones now. */
  resume(): Promise<void>;
  /** Clears every timer and waits for runs in progress. */
  stop(): Promise<void>;
}

export function makeLocalClock({
  pending,
  run,
  logger,
}: {
  pending: PendingArms;
  run: (event: ClockEvent) => Promise<unknown>;
  logger: Pick<Logger, "error">;
}): LocalClock {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopped = false;

  const invoke = (id: string, event: ClockEvent, attempt = 1): void => {
    if (stopped) return;
    const done = run(event).then(
      () => undefined,
      (error: unknown) => {
        if (stopped) return;
        if (attempt >= MAX_ATTEMPTS) {
          logger.error("scheduled change not applied after retries", { ...event, error: error as Error });
          return;
        }
        timers.set(
          id,
          setTimeout(() => invoke(id, event, attempt + 1), RETRY_MS),
        );
      },
    );
    running.add(done);
    void done.finally(() => running.delete(done));
  };

  const wait = (id: string, event: ClockEvent, dueMs: number): void => {
    const delay = dueMs - Date.now();
    if (delay <= 0) {
      timers.delete(id);
      invoke(id, event);
      return;
    }
    timers.set(
      id,
      setTimeout(() => wait(id, event, dueMs), Math.min(delay, MAX_TIMER_MS)),
    );
  };

  const clock: LocalClock = {
    async arm({ id, flagName, at, event }) {
      clearTimeout(timers.get(id));
      wait(id, event ?? { scheduleId: id, flagName }, new Date(at).getTime());
    },
    async disarm({ id }) {
      clearTimeout(timers.get(id));
      timers.delete(id);
    },
    async resume() {
      for (const item of await pending()) await clock.arm(item);
    },
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(running);
    },
  };
  return clock;
}
