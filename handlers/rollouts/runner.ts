import type { Logger } from "@aws-lambda-powertools/logger";
import type { ScheduleRunEvent } from "../schedules/model";
import { isRolloutStepEvent, type RolloutStepEvent } from "./model";
import type { Rollouts } from "./service";

/** The part of CloudWatch's `CloudWatch Alarm State Change` event (via EventBridge) the guard reads. */
export interface AlarmStateChangeEvent {
  source: "aws.cloudwatch";
  "detail-type": "CloudWatch Alarm State Change";
  detail: { alarmName: string; state: { value: string } };
}

/** The EventBridge pattern of the guard's rule: any alarm of the account and region entering ALARM. */
export const ALARM_STATE_CHANGE_PATTERN = {
  source: ["aws.cloudwatch"],
  "detail-type": ["CloudWatch Alarm State Change"],
  detail: { state: { value: ["ALARM"] } },
};

const isAlarmEvent = (event: unknown): event is AlarmStateChangeEvent => {
  const candidate = event as Partial<AlarmStateChangeEvent> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    candidate.source === "aws.cloudwatch" &&
    candidate["detail-type"] === "CloudWatch Alarm State Change"
  );
};

/**
 * The one function EventBridge Scheduler and the guard rule invoke: a schedule's change
 * (`{scheduleId, flagName}`), a rollout's next step (`{rolloutStep}`), or an alarm's state change,
 * which aborts the running rollouts it guards.
 */
export function makeClockRunner({
  schedule,
  rollouts,
  logger,
}: {
  schedule: (event: ScheduleRunEvent) => Promise<unknown>;
  rollouts: Pick<Rollouts, "advance" | "alarmed">;
  logger: Pick<Logger, "info" | "warn">;
}) {
  return async (event: ScheduleRunEvent | RolloutStepEvent | AlarmStateChangeEvent): Promise<unknown> => {
    if (isRolloutStepEvent(event)) return rollouts.advance(event);
    if (isAlarmEvent(event)) {
      const alarm = event.detail?.alarmName;
      const state = event.detail?.state?.value;
      if (typeof alarm !== "string" || state !== "ALARM") {
        logger.warn("alarm event ignored", { alarm, state });
        return { aborted: 0 };
      }
      const aborted = await rollouts.alarmed(alarm);
      logger.info("guard alarm handled", { alarm, aborted });
      return { aborted };
    }
    return schedule(event);
  };
}
