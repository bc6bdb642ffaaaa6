import type { EvaluationContext, FlagValue, FlagValueType, Logger, ResolutionDetails } from "@openfeature/core";
import { ErrorCode, StandardResolutionReasons } from "@openfeature/core";
import { FlagdCore, MemoryStorage } from "@openfeature/flagd-core";
import { toFlagdConfiguration } from "./flagd";
import type { ChangeMessage, Evaluators, Flag, SnapshotMessage } from "./protocol";

/** The flags in memory: what the service sent, and flagd-core's evaluator over them. */
export class FlagSet {
  private readonly flags = new Map<string, Flag>();
  private evaluators: Evaluators = {};
  private readonly core: FlagdCore;
  /** Whether a complete flag set (a snapshot, or the cache) is held. */
  held = false;

  constructor(private readonly logger: Logger) {
    this.core = new FlagdCore(undefined, logger);
  }

  /**
   * Replaces everything with a complete snapshot, then re-applies `since`: changes received on the
   * same connection since the snapshot was asked for, which the snapshot may predate. Returns the
   * flags whose evaluation changed (added, changed, removed; a changed evaluator names the flags
   * that use it).
   */
  replace(flags: readonly Flag[], evaluators: Evaluators, since: readonly ChangeMessage[] = []): string[] {
    this.flags.clear();
    for (const flag of flags) this.flags.set(flag.flagName, flag);
    this.evaluators = evaluators;
    for (const message of since) this.merge(message);
    this.held = true;
    return this.rebuild();
  }

  /** Applies one change (keeping, per flag, the newest version); returns the flags it changed. */
  apply(message: ChangeMessage): string[] {
    return this.merge(message) ? this.rebuild() : [];
  }

  /** Everything held, for a cache file. */
  toJSON(): { flags: Flag[]; evaluators: Evaluators } {
    return { flags: [...this.flags.values()], evaluators: this.evaluators };
  }

  /** Evaluates with flagd-core; never throws. */
  resolve<T extends FlagValue>(
    type: FlagValueType,
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): ResolutionDetails<T> {
    if (!this.held) {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.PROVIDER_NOT_READY,
        errorMessage: "no flags received yet",
      };
    }
    try {
      return this.core.resolve(type, flagKey, defaultValue, context, this.logger);
    } catch (error) {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.GENERAL,
        errorMessage: `evaluation failed: ${(error as Error)?.message ?? String(error)}`,
      };
    }
  }

  private merge(message: ChangeMessage): boolean {
    switch (message.type) {
      case "flag.created":
      case "flag.updated": {
        const current = this.flags.get(message.flag.flagName);
        if (current !== undefined && current.version >= message.flag.version) return false;
        this.flags.set(message.flag.flagName, message.flag);
        return true;
      }
      case "flag.deleted": {
        const current = this.flags.get(message.flagName);
        if (current === undefined || current.version > message.version) return false;
        this.flags.delete(message.flagName);
        return true;
      }
      case "evaluators.updated":
        this.evaluators = message.evaluators;
        return true;
    }
  }

  /**
   * Hands the whole set to flagd-core, which parses it (resolving `$ref`s) and reports the flags
   * whose definition changed. One flag flagd cannot take must not cost the others: if the set is
   * refused, it is handed over again without the flags that fail on their own.
   */
  private rebuild(): string[] {
    try {
      return this.core.setConfigurations(toFlagdConfiguration(this.flags.values(), this.evaluators));
    } catch (error) {
      const accepted = [...this.flags.values()].filter((flag) => {
        try {
          new MemoryStorage(this.logger).setConfigurations(toFlagdConfiguration([flag], this.evaluators));
          return true;
        } catch {
          this.logger.warn(`flag '${flag.flagName}' is not a valid flagd flag and is left out: ${String(error)}`);
          return false;
        }
      });
      return this.core.setConfigurations(toFlagdConfiguration(accepted, this.evaluators));
    }
  }
}

/** Collects the parts of one snapshot on one connection, and the changes that arrive meanwhile. */
export class SnapshotAssembly {
  private parts: Flag[][] = [];
  private expected = 0;
  private evaluators: Evaluators = {};
  /** Changes since the snapshot was asked for (connection open or sync sent). */
  private since: ChangeMessage[] = [];
  private pending = false;

  /** Starts over: a snapshot is on its way (a new connection, or a sync was sent). */
  reset(): void {
    this.parts = [];
    this.expected = 0;
    this.since = [];
    this.pending = true;
  }

  /** Remembers a change that arrived while a snapshot is on its way. */
  note(message: ChangeMessage): void {
    if (this.pending) this.since.push(message);
  }

  /**
   * Takes one frame. Returns the complete snapshot once every part is held; `"out-of-order"` for a
   * part that does not follow the last one (the caller asks for a fresh snapshot); undefined while
   * parts are missing.
   */
  add(
    message: SnapshotMessage,
  ): { flags: Flag[]; evaluators: Evaluators; since: ChangeMessage[] } | "out-of-order" | undefined {
    const part = message.part ?? 1;
    const parts = message.parts ?? 1;
    if (part === 1) {
      this.parts = [];
      this.expected = parts;
      this.evaluators = message.evaluators ?? {};
    } else if (part !== this.parts.length + 1 || parts !== this.expected) {
      this.parts = [];
      return "out-of-order";
    }
    this.parts.push(message.flags);
    if (this.parts.length < this.expected) return undefined;
    const complete = { flags: this.parts.flat(), evaluators: this.evaluators, since: this.since };
    this.parts = [];
    this.since = [];
    this.pending = false;
    return complete;
  }
}
