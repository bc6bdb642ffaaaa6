import * as z from "zod";
import { serviceError } from "../errors";
import { type FlagSchemas, parseUpdateFlag, type UpdateFlagInput } from "../flags/validation";
import { MAX_SCHEDULE_AHEAD_MS } from "./model";

/** A schedule's request, checked: `at` normalised to UTC, the change as a PUT would take it. */
export interface CreateScheduleInput {
  at: string;
  /** The PUT body, as given; applied (and validated again) by the runner. */
  change: Record<string, unknown>;
  ifMatch?: number;
  /** The change as the PUT's validation returns it (what the runner will write). */
  update: UpdateFlagInput;
}

/** Built on demand, as flagSchemas is: zod instances do not survive Pulumi's serialization. */
export function scheduleSchemas() {
  return {
    create: z.strictObject({
      at: z.iso.datetime({ offset: true, error: "at must be an ISO-8601 date-time, e.g. 2026-12-24T18:00:00Z" }),
      change: z.record(z.string(), z.unknown(), { error: "change must be a PUT body (a JSON object)" }),
      ifMatch: z
        .number({ error: "ifMatch must be a flag version (an integer from 1)" })
        .int("ifMatch must be a flag version (an integer from 1)")
        .min(1, "ifMatch must be a flag version (an integer from 1)")
        .optional(),
    }),
  };
}

export type ScheduleSchemas = ReturnType<typeof scheduleSchemas>;

/**
 * Checks a `POST /flags/{flagName}/schedules` body: `at` not in the past and at most a year ahead,
 * `change` exactly as `PUT /flags/{flagName}` checks its body (a change that would be refused then
 * is refused now), `ifMatch` a version.
 */
export function parseCreateSchedule(
  body: unknown,
  flagName: string,
  now: Date,
  schemas: { schedule: ScheduleSchemas; flag: FlagSchemas },
): CreateScheduleInput {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", "body: must be a JSON object");
  }
  const result = schemas.schedule.create.safeParse(body);
  if (!result.success) {
    const details = result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
    throw serviceError("VALIDATION_FAILED", details.join("; "), { cause: result.error });
  }
  const { at: rawAt, change, ifMatch } = result.data;
  const at = new Date(rawAt);
  if (at.getTime() < now.getTime()) {
    throw serviceError("VALIDATION_FAILED", `at: ${rawAt} is in the past (it is now ${now.toISOString()})`);
  }
  if (at.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_MS) {
    throw serviceError("VALIDATION_FAILED", `at: ${rawAt} is more than a year ahead`);
  }
  let update: UpdateFlagInput;
  try {
    update = parseUpdateFlag(change, flagName, schemas.flag);
  } catch (error) {
    // Said as about `change`, so the client knows which part of the body it was.
    if (error instanceof Error) error.message = `change: ${error.message}`;
    throw error;
  }
  if (update.flagName !== undefined && update.flagName !== flagName) {
    throw serviceError("NAME_MISMATCH", `change names '${update.flagName}' but the path names '${flagName}'`);
  }
  return { at: at.toISOString(), change, ...(ifMatch === undefined ? {} : { ifMatch }), update };
}
