/**
 * Progressive rollouts (CONTRACT.md, the rollout routes and the paragraph under the REST table):
 * a flag serves one of its variants to a rising percentage of targeting keys, step by step, and
 * an abort (a person's, or a guard alarm's) puts the flag back to its definition from before.
 */
import { createHash } from "node:crypto";
import type { FlagDefinition, FlagItem } from "../flags/model";

export type RolloutStatus = "running" | "completed" | "aborted";

export interface RolloutStep {
  percent: number;
  /** How long the step holds before the next one; absent means 0 (the next step follows at once). */
  holdSeconds?: number;
}

/** A rollout as the API returns it. */
export interface Rollout {
  flagName: string;
  variant: string;
  steps: RolloutStep[];
  guard?: { alarms: string[] };
  status: RolloutStatus;
  /** The index in `steps` of the step the flag is at. */
  step: number;
  percent: number;
  baseVersion: number;
  startedAt: string;
  startedBy: string | null;
  /** When the next step is due: absent on the last step and once the rollout ended. */
  nextStepAt?: string;
  /** The flag version the current step (or the abort) wrote. */
  version?: number;
  completedAt?: string;
  abortedAt?: string;
  /** Who aborted it with `POST .../rollout/abort` (a token id); absent when an alarm did. */
  abortedBy?: string | null;
  /** The guard alarm whose `ALARM` state aborted it. */
  abortedByAlarm?: string;
  /** Why it stopped on its own (the flag was deleted, or a step could no longer be written). */
  error?: { code: string; message: string };
}

/**
 * The schedules table holds a flag's rollout too, as the item with this sort key beside the
 * flag's schedules (whose ids are UUIDs): one rollout per flag, the latest, kept after it ends.
 */
export const ROLLOUT_ID = "rollout";

/** A rollout as stored: the API's fields, and the flag's definition from before it (`baseJson`). */
export interface RolloutItem {
  flagName: string;
  id: typeof ROLLOUT_ID;
  variant: string;
  steps: RolloutStep[];
  guardAlarms?: string[];
  status: RolloutStatus;
  step: number;
  percent: number;
  baseVersion: number;
  /** The PUT body that gives the flag back its definition at `baseVersion` (JSON text, as flags keep it). */
  baseJson: string;
  startedAt: string;
  startedBy: string | null;
  nextStepAt?: string;
  version?: number;
  completedAt?: string;
  abortedAt?: string;
  abortedBy?: string | null;
  abortedByAlarm?: string;
  errorCode?: string;
  errorMessage?: string;
}

export function itemToRollout(item: RolloutItem): Rollout {
  return {
    flagName: item.flagName,
    variant: item.variant,
    steps: item.steps.map((step) => ({
      percent: Number(step.percent),
      ...(step.holdSeconds === undefined ? {} : { holdSeconds: Number(step.holdSeconds) }),
    })),
    ...(item.guardAlarms === undefined ? {} : { guard: { alarms: [...item.guardAlarms] } }),
    status: item.status,
    step: Number(item.step),
    percent: Number(item.percent),
    baseVersion: Number(item.baseVersion),
    startedAt: item.startedAt,
    startedBy: item.startedBy ?? null,
    ...(item.nextStepAt === undefined ? {} : { nextStepAt: item.nextStepAt }),
    ...(item.version === undefined ? {} : { version: Number(item.version) }),
    ...(item.completedAt === undefined ? {} : { completedAt: item.completedAt }),
    ...(item.abortedAt === undefined ? {} : { abortedAt: item.abortedAt }),
    ...(item.abortedAt !== undefined && item.abortedByAlarm === undefined && item.errorCode === undefined
      ? { abortedBy: item.abortedBy ?? null }
      : {}),
    ...(item.abortedByAlarm === undefined ? {} : { abortedByAlarm: item.abortedByAlarm }),
    ...(item.errorCode === undefined ? {} : { error: { code: item.errorCode, message: item.errorMessage ?? "" } }),
  };
}

/** What the runner is invoked with to move a rollout to `step` (by EventBridge Scheduler, or the local clock). */
export interface RolloutStepEvent {
  rolloutStep: { flagName: string; startedAt: string; step: number };
}

export const isRolloutStepEvent = (event: unknown): event is RolloutStepEvent =>
  typeof event === "object" && event !== null && "rolloutStep" in event;

/**
 * The clock's name for a rollout's step (an EventBridge Scheduler schedule name: at most 64 of
 * [0-9a-zA-Z-_.]): a hash of the flag and the rollout, and the step, so a retried arm is the same.
 */
export function rolloutStepId(flagName: string, startedAt: string, step: number): string {
  const hash = createHash("sha256").update(`${flagName}\n${startedAt}`).digest("hex").slice(0, 32);
  return `rollout-${hash}-${step}`;
}

/** The PUT body that gives a flag its stored definition back: what an abort writes. */
export function baseBody(item: Pick<FlagItem, "valueJson" | "definitionJson">): Record<string, unknown> {
  return {
    ...(item.valueJson === undefined ? {} : { value: JSON.parse(item.valueJson) as unknown }),
    ...(item.definitionJson === undefined ? {} : (JSON.parse(item.definitionJson) as FlagDefinition)),
  };
}

/**
 * The flag's definition at a step: `variant` for `percent` % of targeting keys, and what the flag
 * served before for the rest. The split is flagd's `fractional` (bucketing by flag key and
 * targeting key, so every evaluator, the provider's, OFREP's and the console's, puts a key in the
 * same bucket) as the condition of an `if` at the top of the targeting, whose else branch is the
 * targeting from before (or nothing: the default variant). The rollout's bucket comes first and
 * the weights always sum to 100, so a key in it stays in it as `percent` rises. A key-less
 * evaluation gets no bucket (`fractional` is null), so it is served as before.
 */
export function rolloutBody(base: Record<string, unknown>, variant: string, percent: number): Record<string, unknown> {
  const split = {
    fractional: [
      ["rollout", percent],
      ["base", 100 - percent],
    ],
  };
  const before = base.targeting === undefined ? null : base.targeting;
  return { ...base, targeting: { if: [{ "===": [split, "rollout"] }, variant, before] } };
}
