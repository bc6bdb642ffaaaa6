import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  type SchedulerClient,
} from "@aws-sdk/client-scheduler";
import type { RolloutStepEvent } from "../rollouts/model";
import type { ScheduleRunEvent } from "./model";

/** What the clock invokes the runner with: a schedule's change, or a rollout's next step. */
export type ClockEvent = ScheduleRunEvent | RolloutStepEvent;

/** What runs a schedule's change (or a rollout's step) at its time: EventBridge Scheduler on AWS, timers locally. */
export interface ScheduleClock {
  /**
   * Arranges for the runner to be invoked at `at` with `event`, by default a schedule's
   * `{scheduleId: id, flagName}`. `id` names the arrangement (unique, at most 64 of [0-9a-zA-Z-_.]).
   */
  arm(schedule: { id: string; flagName: string; at: string; event?: ClockEvent }): Promise<void>;
  /** Undoes `arm`; nothing happens when it already ran or was never armed. */
  disarm(schedule: { id: string; flagName: string }): Promise<void>;
}

/**
 * EventBridge Scheduler's schedules fire with a minute's precision, and one whose `at()` is already
 * past when it is created would not fire: a schedule due sooner than this is set this far ahead.
 */
export const MIN_LEAD_MS = 5_000;

/**
 * The `at()` expression (UTC, whole seconds) for a schedule due at `at`: rounded up, so never
 * before `at`, and at least MIN_LEAD_MS after `now`.
 */
export function atExpression(at: string, now: Date): string {
  const due = Math.max(new Date(at).getTime(), now.getTime() + MIN_LEAD_MS);
  const seconds = new Date(Math.ceil(due / 1000) * 1000).toISOString().slice(0, 19);
  return `at(${seconds})`;
}

/**
 * The EventBridge Scheduler schedule of a schedule: its id, which is a UUID (36 of the 64
 * characters allowed), or a rollout step's id (`rollout-<hash>-<step>`, handlers/rollouts/model.ts).
 */
export const eventBridgeScheduleName = (id: string): string => id;

/**
 * Deletes a schedule's EventBridge Scheduler schedule: what cancelling needs (a flag's deletion
 * too), without the target's details.
 */
export function makeEventBridgeDisarm({
  client,
  groupName,
}: {
  client: SchedulerClient;
  groupName: string;
}): Pick<ScheduleClock, "disarm"> {
  return {
    async disarm({ id }) {
      try {
        await client.send(new DeleteScheduleCommand({ Name: eventBridgeScheduleName(id), GroupName: groupName }));
      } catch (error) {
        // It ran (and Scheduler deleted it) or was deleted already.
        if ((error as Error).name === "ResourceNotFoundException") return;
        throw error;
      }
    },
  };
}

export interface EventBridgeClockDeps {
  client: SchedulerClient;
  /** The stack's schedule group: the API function may create and delete schedules there only. */
  groupName: string;
  /** The runner function's ARN. */
  targetArn: string;
  /** The role EventBridge Scheduler invokes the runner with (passed explicitly: iam:PassRole). */
  roleArn: string;
  /** Where an invocation that kept failing goes. */
  deadLetterArn: string;
  now?: () => Date;
}

/**
 * One one-time EventBridge Scheduler schedule per pending schedule, deleted by Scheduler once it
 * has run (ActionAfterCompletion DELETE) or by `disarm` when cancelled. Retries: a runner fault is
 * retried by Scheduler (the runner is idempotent: a schedule applies once), then dead-lettered.
 */
export function makeEventBridgeClock({
  client,
  groupName,
  targetArn,
  roleArn,
  deadLetterArn,
  now = () => new Date(),
}: EventBridgeClockDeps): ScheduleClock {
  return {
    async arm({ id, flagName, at, event }) {
      const input: ClockEvent = event ?? { scheduleId: id, flagName };
      try {
        await client.send(
          new CreateScheduleCommand({
            Name: eventBridgeScheduleName(id),
            GroupName: groupName,
            ScheduleExpression: atExpression(at, now()),
            ScheduleExpressionTimezone: "UTC",
            FlexibleTimeWindow: { Mode: "OFF" },
            ActionAfterCompletion: "DELETE",
            Description:
              `feature-flags: ${"rolloutStep" in input ? "rollout step" : "scheduled change"} of ${flagName}`.slice(
                0,
                512,
              ),
            Target: {
              Arn: targetArn,
              RoleArn: roleArn,
              Input: JSON.stringify(input),
              RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
              DeadLetterConfig: { Arn: deadLetterArn },
            },
          }),
        );
      } catch (error) {
        // The same schedule armed again (a retried request): it is there already.
        if (error instanceof ConflictException || (error as Error).name === "ConflictException") return;
        throw error;
      }
    },
    disarm: makeEventBridgeDisarm({ client, groupName }).disarm,
  };
}
