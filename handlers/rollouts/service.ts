import type { Logger } from "@aws-lambda-powertools/logger";
import { flagNotFound, isServiceError, serviceError } from "../errors";
import type { FlagStore } from "../flags/store";
import { type FlagSchemas, flagSchemas, parseUpdateFlag, type UpdateFlagInput } from "../flags/validation";
import type { ScheduleClock } from "../schedules/clock";
import type { ChangeVia } from "../schedules/model";
import { baseBody, type RolloutItem, type RolloutStepEvent, ROLLOUT_ID, rolloutBody, rolloutStepId } from "./model";
import type { RolloutStore } from "./store";
import type { StartRolloutInput } from "./validation";

export interface RolloutDeps {
  flags: FlagStore;
  rollouts: RolloutStore;
  /** Arms a rollout's next step (and disarms it on an abort): EventBridge Scheduler, or local timers. */
  clock: ScheduleClock;
  /**
   * Holds are rounded up to a multiple of this many seconds: 60 on AWS, where EventBridge
   * Scheduler runs a schedule within its minute; 1 locally.
   */
  holdRoundingSeconds: number;
  logger: Pick<Logger, "info" | "warn">;
  now?: () => Date;
}

/** Who or what aborts a rollout: a person's request, or a guard alarm entering ALARM. */
export type AbortCause = { actor: string | null } | { alarm: string };

/** How often a start reads the flag again when a concurrent write got between its read and its write. */
const START_ATTEMPTS = 3;

const ROLLOUT_GONE = "rollout moved on meanwhile";

const notRunning = (flagName: string, item: RolloutItem) =>
  serviceError(
    "ROLLOUT_NOT_RUNNING",
    `the rollout of flag '${flagName}' is ${item.status}; only a running one can be aborted`,
  );

/**
 * Progressive rollouts: each step an ordinary, audited flag version (`via: {rollout: startedAt}`,
 * made by the rollout's starter), written in one transaction with the rollout's own move, so a
 * step is taken once however often the clock delivers it; the abort writes the flag's definition
 * from before back (`via: {alarm}` when a guard alarm caused it).
 */
export function makeRollouts({
  flags,
  rollouts,
  clock,
  holdRoundingSeconds,
  logger,
  now = () => new Date(),
}: RolloutDeps) {
  let schemas: FlagSchemas | undefined;
  const flagSchemasOnce = () => (schemas ??= flagSchemas());

  /** A step's definition, checked exactly as a PUT is (bounds included). */
  const stepInput = (
    item: Pick<RolloutItem, "flagName" | "baseJson" | "variant">,
    percent: number,
  ): UpdateFlagInput => {
    const base = JSON.parse(item.baseJson) as Record<string, unknown>;
    return parseUpdateFlag(rolloutBody(base, item.variant, percent), item.flagName, flagSchemasOnce());
  };

  const nextStepAt = (item: Pick<RolloutItem, "steps">, step: number, from: Date): string | undefined => {
    if (step >= item.steps.length - 1) return undefined;
    const hold = Number(item.steps[step].holdSeconds ?? 0);
    const rounded = Math.ceil(hold / holdRoundingSeconds) * holdRoundingSeconds;
    return new Date(from.getTime() + rounded * 1000).toISOString();
  };

  const armNext = async (item: Pick<RolloutItem, "flagName" | "startedAt">, step: number, at: string) => {
    const event: RolloutStepEvent = { rolloutStep: { flagName: item.flagName, startedAt: item.startedAt, step } };
    await clock.arm({ id: rolloutStepId(item.flagName, item.startedAt, step), flagName: item.flagName, at, event });
  };

  const abort = async (flagName: string, cause: AbortCause): Promise<RolloutItem> => {
    const item = await rollouts.get(flagName);
    if (item === undefined) {
      if ((await rollouts.flagItem(flagName)) === undefined) throw flagNotFound(flagName);
      throw serviceError("ROLLOUT_NOT_FOUND", `flag '${flagName}' has no rollout`);
    }
    if (item.status !== "running") throw notRunning(flagName, item);
    const at = now().toISOString();
    const by = "alarm" in cause ? { abortedByAlarm: cause.alarm } : { abortedBy: cause.actor };
    const via: ChangeVia = "alarm" in cause ? { alarm: cause.alarm } : { rollout: item.startedAt };
    const actor = "alarm" in cause ? null : cause.actor;
    let ended: RolloutItem;
    try {
      const input = parseUpdateFlag(JSON.parse(item.baseJson), flagName, flagSchemasOnce());
      const flag = await flags.update(flagName, input, actor, undefined, {
        via,
        rollout: { startedAt: item.startedAt, hold: false },
        guard: {
          item: (next) => rollouts.abortItem(flagName, item.startedAt, { at: next.at, version: next.version, ...by }),
          failed: () => new Error(ROLLOUT_GONE),
        },
      });
      ended = { ...item, status: "aborted", abortedAt: flag.updatedAt, version: flag.version, ...by };
      delete ended.nextStepAt;
    } catch (error) {
      if (error instanceof Error && error.message === ROLLOUT_GONE) {
        const now = await rollouts.get(flagName);
        throw notRunning(flagName, now ?? item);
      }
      if (!isServiceError(error) || error.code !== "FLAG_NOT_FOUND") throw error;
      // The flag is gone: the rollout ends with nothing to write back.
      await rollouts.end(flagName, item.startedAt, { at, ...by });
      ended = { ...item, status: "aborted", abortedAt: at, ...by };
      delete ended.nextStepAt;
    }
    await clock.disarm({ id: rolloutStepId(flagName, item.startedAt, Number(item.step) + 1), flagName });
    logger.info("rollout aborted", { flagName, startedAt: item.startedAt, ...by, version: ended.version });
    return ended;
  };

  return {
    /**
     * Starts a rollout at its first step: the flag must have the variant, and no rollout may be
     * running. The first step's version is written with the rollout's record in one transaction.
     */
    async start(flagName: string, input: StartRolloutInput, actor: string | null): Promise<RolloutItem> {
      for (let attempt = 1; ; attempt++) {
        const flag = await rollouts.flagItem(flagName);
        if (flag === undefined) throw flagNotFound(flagName);
        if (flag.rolloutStartedAt !== undefined) {
          throw serviceError(
            "ROLLOUT_RUNNING",
            `flag '${flagName}' is being rolled out already; abort that rollout first`,
          );
        }
        const base = baseBody(flag);
        const variants = base.variants as Record<string, unknown> | undefined;
        if (variants === undefined || !Object.hasOwn(variants, input.variant)) {
          const names = variants === undefined ? [] : Object.keys(variants);
          throw serviceError(
            "VALIDATION_FAILED",
            names.length === 0
              ? `variant: flag '${flagName}' has no variants; give it variants (and a default variant) to roll one out`
              : `variant: flag '${flagName}' has no variant '${input.variant}' (it has ${names.map((n) => `'${n}'`).join(", ")})`,
          );
        }
        const startedAt = now();
        const last = input.steps.length === 1;
        const item: RolloutItem = {
          flagName,
          id: ROLLOUT_ID,
          variant: input.variant,
          steps: input.steps,
          ...(input.guardAlarms === undefined ? {} : { guardAlarms: input.guardAlarms }),
          status: last ? "completed" : "running",
          step: 0,
          percent: input.steps[0].percent,
          baseVersion: Number(flag.version),
          baseJson: JSON.stringify(base),
          startedAt: startedAt.toISOString(),
          startedBy: actor,
        };
        let update: UpdateFlagInput;
        try {
          update = stepInput(item, item.percent);
        } catch (error) {
          if (error instanceof Error) error.message = `the rollout's definition of the flag: ${error.message}`;
          throw error;
        }
        try {
          const written = await flags.update(flagName, update, actor, Number(flag.version), {
            via: { rollout: item.startedAt },
            rollout: { startedAt: item.startedAt, hold: !last },
            guard: {
              item: (next) => {
                item.version = next.version;
                const due = nextStepAt(item, 0, new Date(next.at));
                if (due !== undefined) item.nextStepAt = due;
                else item.completedAt = next.at;
                return rollouts.startItem(item);
              },
              failed: () =>
                serviceError(
                  "ROLLOUT_RUNNING",
                  `flag '${flagName}' is being rolled out already; abort that rollout first`,
                ),
            },
          });
          item.version = written.version;
        } catch (error) {
          // A write got between this read of the flag and the rollout's: read it again.
          if (isServiceError(error) && error.code === "VERSION_CONFLICT" && attempt < START_ATTEMPTS) continue;
          throw error;
        }
        if (item.nextStepAt !== undefined) {
          try {
            await armNext(item, 1, item.nextStepAt);
          } catch (error) {
            // No clock, no ramp: the flag goes back, and the failure is the request's.
            await abort(flagName, { actor }).catch(() => undefined);
            throw error;
          }
        }
        logger.info("rollout started", {
          flagName,
          startedAt: item.startedAt,
          percent: item.percent,
          version: item.version,
        });
        return item;
      }
    },

    /**
     * Moves a rollout to the step its clock was armed for. A delivery for a rollout that moved on
     * (a retry, an abort, a newer rollout) changes nothing; a fault throws, so the clock retries.
     */
    async advance(event: RolloutStepEvent): Promise<{ outcome: "stepped" | "completed" | "skipped" | "stopped" }> {
      const { flagName, startedAt, step } = event.rolloutStep;
      const item = await rollouts.get(flagName);
      const current = item !== undefined && item.startedAt === startedAt && item.status === "running";
      if (current && Number(item.step) === step && item.nextStepAt !== undefined) {
        // This step was taken, but arming the next failed (this is the clock's retry): arm it now,
        // or the ramp would stop here. Arming the same step twice is a no-op.
        await armNext(item, step + 1, item.nextStepAt);
        logger.warn("rollout step not taken", {
          flagName,
          startedAt,
          step,
          reason: "taken already; next step armed again",
        });
        return { outcome: "skipped" };
      }
      if (
        item === undefined ||
        item.startedAt !== startedAt ||
        item.status !== "running" ||
        Number(item.step) !== step - 1
      ) {
        logger.warn("rollout step not taken", { flagName, startedAt, step, reason: "the rollout moved on" });
        return { outcome: "skipped" };
      }
      const last = step === item.steps.length - 1;
      const percent = Number(item.steps[step].percent);
      try {
        const input = stepInput(item, percent);
        let due: string | undefined;
        const flag = await flags.update(flagName, input, item.startedBy, undefined, {
          via: { rollout: startedAt },
          rollout: { startedAt, hold: !last },
          guard: {
            item: (next) => {
              due = nextStepAt(item, step, new Date(next.at));
              return rollouts.stepItem(flagName, startedAt, step - 1, {
                step,
                percent,
                version: next.version,
                at: next.at,
                ...(due === undefined ? {} : { nextStepAt: due }),
                last,
              });
            },
            failed: () => new Error(ROLLOUT_GONE),
          },
        });
        logger.info("rollout step taken", { flagName, startedAt, step, percent, version: flag.version });
        if (due !== undefined) await armNext(item, step + 1, due);
        return { outcome: last ? "completed" : "stepped" };
      } catch (error) {
        if (error instanceof Error && error.message === ROLLOUT_GONE) {
          logger.warn("rollout step not taken", { flagName, startedAt, step, reason: "aborted or taken meanwhile" });
          return { outcome: "skipped" };
        }
        if (!isServiceError(error)) throw error;
        // The flag can no longer take the step (it was deleted): the rollout stops where it is.
        const failure = { code: error.code, message: error.message };
        await rollouts.end(flagName, startedAt, { at: now().toISOString(), error: failure });
        logger.warn("rollout stopped", { flagName, startedAt, step, ...failure });
        return { outcome: "stopped" };
      }
    },

    abort,

    /** Aborts every running rollout the alarm guards; how many it aborted. */
    async alarmed(alarm: string): Promise<number> {
      let aborted = 0;
      for (const item of await rollouts.running(alarm)) {
        try {
          await abort(item.flagName, { alarm });
          aborted++;
        } catch (error) {
          // Ended meanwhile (completed, or aborted by another alarm or a person).
          if (!isServiceError(error) || error.code !== "ROLLOUT_NOT_RUNNING") throw error;
        }
      }
      return aborted;
    },

    /** Every running rollout's next step, for a clock that starts empty (the local runtime). */
    async pendingSteps(): Promise<Array<{ id: string; flagName: string; at: string; event: RolloutStepEvent }>> {
      return (await rollouts.running())
        .filter((item) => item.nextStepAt !== undefined)
        .map((item) => {
          const step = Number(item.step) + 1;
          return {
            id: rolloutStepId(item.flagName, item.startedAt, step),
            flagName: item.flagName,
            at: item.nextStepAt as string,
            event: { rolloutStep: { flagName: item.flagName, startedAt: item.startedAt, step } },
          };
        });
    },
  };
}

export type Rollouts = ReturnType<typeof makeRollouts>;

/**
 * A deleted flag's running rollout ends (aborted by the deleter, nothing written back) and its
 * next step is disarmed: what the flag's deletion does, as it cancels the flag's schedules.
 */
export async function endFlagRollout(
  {
    rollouts,
    clock,
    now = () => new Date(),
  }: { rollouts: RolloutStore; clock: Pick<ScheduleClock, "disarm">; now?: () => Date },
  flagName: string,
  actor: string | null,
): Promise<boolean> {
  const item = await rollouts.get(flagName);
  if (item === undefined || item.status !== "running") return false;
  const ended = await rollouts.end(flagName, item.startedAt, { at: now().toISOString(), abortedBy: actor });
  await clock.disarm({ id: rolloutStepId(flagName, item.startedAt, Number(item.step) + 1), flagName });
  return ended;
}
