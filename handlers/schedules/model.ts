/** A scheduled change of a flag (CONTRACT.md, the schedule routes and the paragraph under the REST table). */

export type ScheduleStatus = "pending" | "applied" | "failed" | "cancelled";

/** What made a flag version other than a person's request: carried on the item, named by its audit line. */
export interface ChangeVia {
  schedule?: string;
  rollout?: string;
  alarm?: string;
}

/** A schedule as the API returns it. */
export interface Schedule {
  id: string;
  flagName: string;
  at: string;
  /** The PUT body it applies, exactly as given. */
  change: unknown;
  ifMatch?: number;
  status: ScheduleStatus;
  createdBy: string | null;
  createdAt: string;
  appliedAt?: string;
  version?: number;
  error?: { code: string; message: string };
  failedAt?: string;
  cancelledAt?: string;
  cancelledBy?: string | null;
}

/**
 * A schedule as stored: one item per schedule, keyed (flagName, id), so a flag's schedules are one
 * strongly consistent Query and the runner, which is given both, reads one item. The change is
 * kept as JSON text, as flags keep their values (numbers digit for digit, any depth).
 */
export interface ScheduleItem {
  flagName: string;
  id: string;
  at: string;
  changeJson: string;
  ifMatch?: number;
  status: ScheduleStatus;
  createdBy: string | null;
  createdAt: string;
  appliedAt?: string;
  version?: number;
  errorCode?: string;
  errorMessage?: string;
  failedAt?: string;
  cancelledAt?: string;
  cancelledBy?: string | null;
  /** When a done schedule may go (DynamoDB TTL, epoch seconds): done ones are kept DONE_RETENTION_DAYS. */
  expiresAt?: number;
}

/** The schedules table's shape: the Pulumi component and the local runtime both build from it. */
export const SCHEDULES_TABLE = {
  hashKey: "flagName",
  rangeKey: "id",
  attributes: [
    { name: "flagName", type: "S" },
    { name: "id", type: "S" },
  ],
  ttlAttribute: "expiresAt",
} as const;

/** The local runtime's schedules table beside a flags table. */
export const schedulesTableFor = (flagsTable: string): string => `${flagsTable}-schedules`;

/** Days a done (applied, failed, cancelled) schedule stays listed before DynamoDB's TTL removes it. */
export const DONE_RETENTION_DAYS = 90;

/**
 * Pending schedules one flag may have: each is a timer locally and an EventBridge Scheduler
 * schedule on AWS (an account has a regional quota of them), and a person plans a handful.
 */
export const MAX_PENDING_SCHEDULES_PER_FLAG = 50;

/** The most a schedule may lie ahead (CONTRACT.md: at most a year). */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/** What the runner is invoked with: by EventBridge Scheduler on AWS, by the local clock at home. */
export interface ScheduleRunEvent {
  scheduleId: string;
  flagName: string;
}

export function itemToSchedule(item: ScheduleItem): Schedule {
  return {
    id: item.id,
    flagName: item.flagName,
    at: item.at,
    change: JSON.parse(item.changeJson),
    ...(item.ifMatch === undefined ? {} : { ifMatch: Number(item.ifMatch) }),
    status: item.status,
    createdBy: item.createdBy ?? null,
    createdAt: item.createdAt,
    ...(item.appliedAt === undefined ? {} : { appliedAt: item.appliedAt }),
    ...(item.version === undefined ? {} : { version: Number(item.version) }),
    ...(item.errorCode === undefined ? {} : { error: { code: item.errorCode, message: item.errorMessage ?? "" } }),
    ...(item.failedAt === undefined ? {} : { failedAt: item.failedAt }),
    ...(item.cancelledAt === undefined ? {} : { cancelledAt: item.cancelledAt, cancelledBy: item.cancelledBy ?? null }),
  };
}

/** When a done schedule was done (applied, failed or cancelled). */
const doneAt = (schedule: Schedule): string =>
  schedule.appliedAt ?? schedule.failedAt ?? schedule.cancelledAt ?? schedule.at;

/** The contract's order: pending ones first (soonest first), then done ones, newest first. */
export function sortSchedules(schedules: Schedule[]): Schedule[] {
  const pending = schedules.filter((s) => s.status === "pending").sort((a, b) => a.at.localeCompare(b.at));
  const done = schedules
    .filter((s) => s.status !== "pending")
    .sort((a, b) => doneAt(b).localeCompare(doneAt(a)) || b.createdAt.localeCompare(a.createdAt));
  return [...pending, ...done];
}
