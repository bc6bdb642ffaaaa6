/** Helpers for the scheduled-changes suites: times relative to now, and waiting for a schedule's status. */
import type { Client } from "./http";

/** An ISO-8601 time `ms` from now. */
export const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A flag's schedules as listed by the API. */
export async function schedulesOf(api: Client, flagName: string): Promise<Array<Record<string, any>>> {
  const response = await api("GET", `/flags/${encodeURIComponent(flagName)}/schedules`);
  if (response.status !== 200) throw new Error(`GET schedules of ${flagName}: ${response.status}`);
  return response.body.schedules;
}

/** Polls until the schedule leaves `pending` (or `timeoutMs` passes), returning it as listed. */
export async function untilDone(
  api: Client,
  flagName: string,
  id: string,
  timeoutMs = 10_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const schedule = (await schedulesOf(api, flagName)).find((s) => s.id === id);
    if (schedule === undefined) throw new Error(`schedule ${id} of ${flagName} is not listed`);
    if (schedule.status !== "pending" || Date.now() > deadline) return schedule;
    await sleep(20);
  }
}
