import type { Logger } from "@aws-lambda-powertools/logger";
import { isServiceError } from "../errors";
import type { FlagStore } from "../flags/store";
import { flagSchemas, parseUpdateFlag } from "../flags/validation";
import type { ScheduleRunEvent } from "./model";
import type { ScheduleStore } from "./store";

export interface ScheduleRunnerDeps {
  flags: FlagStore;
  schedules: ScheduleStore;
  logger: Pick<Logger, "info" | "warn">;
}

/** What one run did, for the caller (the local clock, tests); EventBridge ignores it. */
export type ScheduleOutcome =
  | { outcome: "applied"; version: number }
  | { outcome: "failed"; code: string }
  | { outcome: "skipped"; reason: string };

/** The error a guard throws when the schedule left `pending` while the change was being written. */
const NO_LONGER_PENDING = "schedule is no longer pending";

/**
 * Applies one schedule's change, as a PUT of the flag by the schedule's creator (the same
 * validation and the same store write as `PUT /flags/{flagName}`, `ifMatch` as its If-Match), and
 * records it `applied`, with the version, in the write's own transaction: however often it is
 * invoked (Scheduler's retries, a restart), the change is made once. A change the flag no longer
 * takes (deleted, another version than `ifMatch`, a `$ref` gone) records `failed` with the error,
 * logged at WARN; only a fault (DynamoDB unreachable) throws, so Scheduler retries it.
 */
export function makeScheduleRunner({ flags, schedules, logger }: ScheduleRunnerDeps) {
  const schemas = flagSchemas();
  return async (event: ScheduleRunEvent): Promise<ScheduleOutcome> => {
    const { scheduleId, flagName } = event ?? ({} as Partial<ScheduleRunEvent>);
    if (typeof scheduleId !== "string" || typeof flagName !== "string") {
      logger.warn("schedule run without scheduleId and flagName", { event: JSON.stringify(event) });
      return { outcome: "skipped", reason: "no schedule named" };
    }
    const item = await schedules.get(flagName, scheduleId);
    if (item === undefined || item.status !== "pending") {
      const reason = item === undefined ? "no such schedule" : `already ${item.status}`;
      logger.warn("schedule not run", { scheduleId, flagName, reason });
      return { outcome: "skipped", reason };
    }
    const via = { schedule: scheduleId };
    try {
      const input = parseUpdateFlag(JSON.parse(item.changeJson), flagName, schemas);
      const flag = await flags.update(
        flagName,
        input,
        item.createdBy,
        item.ifMatch === undefined ? undefined : Number(item.ifMatch),
        {
          via,
          guard: {
            item: (next) => schedules.appliedItem(flagName, scheduleId, next),
            failed: () => new Error(NO_LONGER_PENDING),
          },
        },
      );
      logger.info("schedule applied", { scheduleId, flagName, version: flag.version });
      return { outcome: "applied", version: flag.version };
    } catch (error) {
      if (error instanceof Error && error.message === NO_LONGER_PENDING) {
        logger.warn("schedule not run", { scheduleId, flagName, reason: "cancelled or applied meanwhile" });
        return { outcome: "skipped", reason: "no longer pending" };
      }
      if (!isServiceError(error)) throw error;
      const failure = { code: error.code, message: error.message };
      const recorded = await schedules.markFailed(flagName, scheduleId, failure);
      logger.warn("schedule failed", { scheduleId, flagName, ...failure, recorded });
      return { outcome: "failed", code: error.code };
    }
  };
}
