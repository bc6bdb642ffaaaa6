import { randomUUID } from "node:crypto";
import { flagNotFound, serviceError } from "../errors";
import { flagSchemas, parseFlagName } from "../flags/validation";
import { type ApiResponse, parseJsonBody, type RouteHandler } from "../http";
import type { ScheduleClock } from "./clock";
import { itemToSchedule, MAX_PENDING_SCHEDULES_PER_FLAG, type ScheduleItem, sortSchedules } from "./model";
import type { ScheduleStore } from "./store";
import { parseCreateSchedule, scheduleSchemas } from "./validation";

export interface ScheduleRouteDeps {
  schedules: ScheduleStore;
  clock: ScheduleClock;
  now?: () => Date;
}

/** A schedule id from the path: what `randomUUID` makes. */
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Cancels every pending schedule of a flag (its deletion does), and disarms their clocks. Each
 * cancel is conditional, so one that the runner is applying at this moment is left to it.
 */
export async function cancelFlagSchedules(
  { schedules, clock }: { schedules: ScheduleStore; clock: Pick<ScheduleClock, "disarm"> },
  flagName: string,
  actor: string | null,
): Promise<number> {
  let cancelled = 0;
  for (const item of await schedules.pendingOf(flagName)) {
    try {
      await schedules.cancel(flagName, item.id, actor);
      cancelled++;
    } catch (error) {
      if ((error as { code?: string }).code !== "SCHEDULE_DONE") throw error;
    }
    await clock.disarm(item);
  }
  return cancelled;
}

const flagMissing = async (schedules: ScheduleStore, flagName: string) => {
  if (!(await schedules.flagExists(flagName))) throw flagNotFound(flagName);
};

/** A schedule id from the path, checked: anything else names no schedule. */
function parseScheduleId(flagName: string, raw: string | undefined): string {
  if (raw === undefined || !ID_PATTERN.test(raw)) {
    throw serviceError("SCHEDULE_NOT_FOUND", `flag '${flagName}' has no schedule '${raw ?? ""}'`);
  }
  return raw;
}

/** `POST /flags/{flagName}/schedules`: stores the schedule, then arms its clock. */
export function makeScheduleCreateRoutes({
  schedules,
  clock,
  now = () => new Date(),
}: ScheduleRouteDeps): Record<string, RouteHandler> {
  // Once per factory (per Lambda instance), not per request.
  const schemas = { schedule: scheduleSchemas(), flag: flagSchemas() };
  return {
    "POST /flags/{flagName}/schedules": async (request): Promise<ApiResponse> => {
      const flagName = parseFlagName(request.params.flagName);
      const input = parseCreateSchedule(parseJsonBody(request), flagName, now(), schemas);
      await flagMissing(schedules, flagName);
      // Counted, then written: two concurrent creates may pass one over; the bound is about scale.
      const pending = (await schedules.pendingOf(flagName)).length;
      if (pending >= MAX_PENDING_SCHEDULES_PER_FLAG) {
        throw serviceError(
          "VALIDATION_FAILED",
          `flag '${flagName}' has ${pending} pending schedules, the most it may have (${MAX_PENDING_SCHEDULES_PER_FLAG}); cancel one first`,
        );
      }
      const item: ScheduleItem = {
        flagName,
        id: randomUUID(),
        at: input.at,
        changeJson: JSON.stringify(input.change),
        ...(input.ifMatch === undefined ? {} : { ifMatch: input.ifMatch }),
        status: "pending",
        createdBy: request.actor,
        createdAt: now().toISOString(),
      };
      await schedules.put(item);
      try {
        await clock.arm(item);
      } catch (error) {
        // Never announced: take it back, so no pending schedule is left without a clock.
        await schedules.remove(flagName, item.id).catch(() => undefined);
        throw error;
      }
      const location = `${request.basePath}/flags/${encodeURIComponent(flagName)}/schedules/${item.id}`;
      return { status: 201, body: itemToSchedule(item), headers: { Location: location } };
    },
  };
}

/** `GET /flags/{flagName}/schedules` and `GET /flags/{flagName}/schedules/{id}`. */
export function makeScheduleReadRoutes({ schedules }: { schedules: ScheduleStore }): Record<string, RouteHandler> {
  return {
    "GET /flags/{flagName}/schedules": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      await flagMissing(schedules, flagName);
      const items = await schedules.list(flagName);
      return { status: 200, body: { schedules: sortSchedules(items.map(itemToSchedule)) } };
    },
    "GET /flags/{flagName}/schedules/{id}": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const id = parseScheduleId(flagName, request.params.id);
      const item = await schedules.get(flagName, id);
      if (item === undefined) {
        await flagMissing(schedules, flagName);
        throw serviceError("SCHEDULE_NOT_FOUND", `flag '${flagName}' has no schedule '${id}'`);
      }
      return { status: 200, body: itemToSchedule(item) };
    },
  };
}

/** `DELETE /flags/{flagName}/schedules/{id}`: cancels it (if still pending), then disarms its clock. */
export function makeScheduleCancelRoutes({
  schedules,
  clock,
}: {
  schedules: ScheduleStore;
  clock: Pick<ScheduleClock, "disarm">;
}): Record<string, RouteHandler> {
  return {
    "DELETE /flags/{flagName}/schedules/{id}": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const id = parseScheduleId(flagName, request.params.id);
      try {
        await schedules.cancel(flagName, id, request.actor);
      } catch (error) {
        // No such schedule: say whether it is the flag that is missing.
        if ((error as { code?: string }).code === "SCHEDULE_NOT_FOUND") await flagMissing(schedules, flagName);
        throw error;
      }
      await clock.disarm({ id, flagName });
      return { status: 204 };
    },
  };
}
