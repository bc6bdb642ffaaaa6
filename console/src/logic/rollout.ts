import type { Rollout, RolloutStep } from "../../../handlers/rollouts/model";

export type { Rollout, RolloutStep };

/** The units the start form offers for a step's hold, in seconds. */
export const HOLD_UNITS = { seconds: 1, minutes: 60, hours: 3_600 } as const;
export type HoldUnit = keyof typeof HOLD_UNITS;

/** The start form as typed: percents as text ("1, 10, 50, 100"), one hold for every step. */
export interface RolloutForm {
  variant: string;
  percents: string;
  hold: string;
  holdUnit: HoldUnit;
  /** Guard alarm names, separated by commas or new lines (CloudWatch names may hold spaces). */
  alarms: string;
}

export interface RolloutRequest {
  variant: string;
  steps: RolloutStep[];
  guard?: { alarms: string[] };
}

/**
 * The `PUT /flags/{flagName}/rollout` body for a form, or what to fix. Only what the form itself
 * can get wrong is checked here (numbers); the API judges the rest (rising percents, the variant,
 * limits) and its message is shown as it is. Every step but the last holds; the last one stays.
 */
export function rolloutRequest(
  form: RolloutForm,
): { ok: true; body: RolloutRequest } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const words = form.percents.split(/[\s,;%]+/).filter((word) => word !== "");
  const percents = words.map(Number);
  if (words.length === 0) errors.push("Percentages: give at least one, e.g. 1, 10, 50, 100");
  const bad = words.filter((_, i) => !Number.isInteger(percents[i]));
  if (bad.length > 0) errors.push(`Percentages: ${bad.join(", ")} is not a whole number`);
  const hold = form.hold.trim() === "" ? 0 : Number(form.hold);
  if (!Number.isFinite(hold) || hold < 0) errors.push("Hold each step: a number of " + form.holdUnit + ", 0 or more");
  if (errors.length > 0) return { ok: false, errors };
  const holdSeconds = Math.round(hold * HOLD_UNITS[form.holdUnit]);
  const steps = percents.map((percent, i) => (i < percents.length - 1 ? { percent, holdSeconds } : { percent }));
  const alarms = form.alarms
    .split(/[,\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return { ok: true, body: { variant: form.variant, steps, ...(alarms.length > 0 ? { guard: { alarms } } : {}) } };
}

/** "in 40 seconds", "in 3 minutes", "2 hours ago": how far `at` is from `now`, in the page's language. */
export function relativeTime(at: number, now: number, locale?: string): string {
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const seconds = Math.round((at - now) / 1000);
  if (Math.abs(seconds) < 90) return format.format(seconds, "second");
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 90) return format.format(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 48) return format.format(hours, "hour");
  return format.format(Math.round(hours / 24), "day");
}

/** A hold in words: "1 s", "5 min", "2 h", "1 h 30 min". */
export function holdText(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600)
    return seconds % 60 === 0 ? `${seconds / 60} min` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(seconds / 60);
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The plan in one line: "1 % (1 min) → 10 % (1 min) → 100 %". */
export function planText(steps: RolloutStep[]): string {
  return steps
    .map((step, i) =>
      i < steps.length - 1 && (step.holdSeconds ?? 0) > 0
        ? `${step.percent} % (${holdText(step.holdSeconds ?? 0)})`
        : `${step.percent} %`,
    )
    .join(" → ");
}

/** How a rollout ended, in a few words: "completed at 100 %", "aborted by guard alarm X at 10 %". */
export function outcomeText(rollout: Rollout): string {
  if (rollout.status !== "aborted") return `${rollout.status} at ${rollout.percent} %`;
  const by =
    rollout.abortedByAlarm !== undefined
      ? ` by guard alarm ${rollout.abortedByAlarm}`
      : rollout.error !== undefined
        ? ""
        : ` by ${rollout.abortedBy ?? "unknown"}`;
  const why = rollout.error === undefined ? "" : ` (${rollout.error.message})`;
  return `aborted${by} at ${rollout.percent} %${why}`;
}
