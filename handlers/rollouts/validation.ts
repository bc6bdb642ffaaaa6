import * as z from "zod";
import { serviceError } from "../errors";
import type { RolloutStep } from "./model";

/** Steps a rollout may have: more is no ramp a person would plan. */
export const MAX_ROLLOUT_STEPS = 20;
/** The longest hold of one step: 30 days. */
export const MAX_HOLD_SECONDS = 30 * 24 * 60 * 60;
/** Guard alarms a rollout may name. */
export const MAX_GUARD_ALARMS = 10;

export interface StartRolloutInput {
  variant: string;
  steps: RolloutStep[];
  guardAlarms?: string[];
}

/** Built on demand: zod instances do not survive Pulumi's serialization. */
export function rolloutSchemas() {
  const step = z.strictObject({
    percent: z
      .number({ error: "percent must be an integer from 1 to 100" })
      .int("percent must be an integer from 1 to 100")
      .min(1, "percent must be an integer from 1 to 100")
      .max(100, "percent must be an integer from 1 to 100"),
    holdSeconds: z
      .number({ error: `holdSeconds must be an integer from 0 to ${MAX_HOLD_SECONDS}` })
      .int(`holdSeconds must be an integer from 0 to ${MAX_HOLD_SECONDS}`)
      .min(0, `holdSeconds must be an integer from 0 to ${MAX_HOLD_SECONDS}`)
      .max(MAX_HOLD_SECONDS, `holdSeconds must be an integer from 0 to ${MAX_HOLD_SECONDS}`)
      .optional(),
  });
  // CloudWatch alarm names: 1 to 255 characters, no control characters.
  const alarmName = z
    .string({ error: "an alarm name is a string" })
    .min(1, "an alarm name has 1 to 255 characters")
    .max(255, "an alarm name has 1 to 255 characters")
    .refine((name) => !/\p{Cc}/u.test(name), "an alarm name has no control characters");
  return {
    start: z.strictObject({
      variant: z.string({ error: "variant must name one of the flag's variants" }).min(1, "variant must not be empty"),
      steps: z
        .array(step, { error: "steps must be an array of {percent, holdSeconds?}" })
        .min(1, "steps must have at least one step")
        .max(MAX_ROLLOUT_STEPS, `steps must have at most ${MAX_ROLLOUT_STEPS} steps`),
      guard: z
        .strictObject({
          alarms: z
            .array(alarmName, { error: "guard.alarms must be an array of CloudWatch alarm names" })
            .min(1, "guard.alarms must name at least one alarm")
            .max(MAX_GUARD_ALARMS, `guard.alarms must name at most ${MAX_GUARD_ALARMS} alarms`),
        })
        .optional(),
    }),
  };
}

export type RolloutSchemas = ReturnType<typeof rolloutSchemas>;

/**
 * Checks a `PUT /flags/{flagName}/rollout` body: a variant, 1 to MAX_ROLLOUT_STEPS steps whose
 * percents rise strictly, each held 0 to 30 days, and at most MAX_GUARD_ALARMS guard alarms.
 * Whether the flag has the variant is checked against the flag.
 */
export function parseStartRollout(body: unknown, schemas: RolloutSchemas): StartRolloutInput {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", "body: must be a JSON object");
  }
  const result = schemas.start.safeParse(body);
  if (!result.success) {
    const details = result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
    throw serviceError("VALIDATION_FAILED", details.join("; "), { cause: result.error });
  }
  const { variant, steps, guard } = result.data;
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].percent <= steps[i - 1].percent) {
      throw serviceError(
        "VALIDATION_FAILED",
        `steps.${i}.percent: percents must rise from step to step, but ${steps[i].percent} follows ${steps[i - 1].percent}`,
      );
    }
  }
  const alarms = guard === undefined ? undefined : [...new Set(guard.alarms)];
  return { variant, steps, ...(alarms === undefined ? {} : { guardAlarms: alarms }) };
}
