import type {
  EvaluationContext,
  FlagMetadata,
  FlagValue,
  FlagValueType,
  Logger,
  ResolutionDetails,
} from "@openfeature/core";
import { ErrorCode, StandardResolutionReasons } from "@openfeature/core";
import { type FeatureFlag, FlagdCore, type Storage } from "@openfeature/flagd-core";
import { compileFlag, type EvaluatorChecks, evaluatorChecks } from "./evaluation";
import { type FlagdFlag, toFlagdFlag } from "./flagd";
import type { ChangeMessage, Evaluators, Flag, SnapshotMessage } from "./protocol";

/** flagd-core's view of the flags, kept up to date one flag at a time (see FlagSet). */
class ParsedFlags implements Storage {
  readonly flags = new Map<string, FeatureFlag>();
  setConfigurations(): string[] {
    throw new Error("ParsedFlags is updated flag by flag");
  }
  getFlag(key: string): FeatureFlag | undefined {
    return this.flags.get(key);
  }
  getFlags(): Map<string, FeatureFlag> {
    return this.flags;
  }
  getFlagSetMetadata(): FlagMetadata {
    return {};
  }
}

/** JSON text, or null for a value nested past what JSON.stringify can walk (never from a bounded service). */
function jsonOrNull(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null;
  }
}

/** flagd's `$ref` as its parser matches it, in JSON without whitespace. */
const refTo = (name: string) => `{"$ref":${JSON.stringify(name)}}`;

/**
 * The flags in memory: what the service sent, and flagd-core's evaluator over them.
 *
 * flagd-core parses (and hashes) a whole flag configuration at a time, which for thousands of flags
 * costs far too much per change. So each flag is built on its own (`compileFlag`: checked against
 * the evaluation bounds, `$ref`s expanded as data, built by flagd-core), and only when its flagd
 * definition or an evaluator it references changed; a flag counts as changed when flagd's hash of
 * its built definition did.
 */
export class FlagSet {
  private readonly flags = new Map<string, Flag>();
  /** Per flag: its flagd definition as JSON text, and what flagd-core parsed from it. */
  private readonly parsed = new Map<string, { source: string; feature: FeatureFlag | undefined; error?: string }>();
  private evaluators: Evaluators = {};
  private readonly storage = new ParsedFlags();
  private readonly core: FlagdCore;
  /** Whether a complete flag set (a snapshot, or the cache) is held. */
  held = false;

  constructor(private readonly logger: Logger) {
    this.core = new FlagdCore(this.storage, logger);
  }

  /**
   * Replaces everything with a complete snapshot, then re-applies `since`: changes received on the
   * same connection since the snapshot was asked for, which the snapshot may predate. Returns the
   * flags whose evaluation changed (added, changed, removed; a changed evaluator names the flags
   * that use it).
   */
  replace(flags: readonly Flag[], evaluators: Evaluators, since: readonly ChangeMessage[] = []): string[] {
    const before = new Set(this.flags.keys());
    const evaluatorsBefore = this.evaluators;
    this.flags.clear();
    for (const flag of flags) this.flags.set(flag.flagName, flag);
    this.evaluators = evaluators;
    for (const message of since) this.merge(message);
    this.held = true;
    return this.update(new Set([...before, ...this.flags.keys()]), evaluatorsBefore);
  }

  /** Applies one change (keeping, per flag, the newest version); returns the flags it changed. */
  apply(message: ChangeMessage): string[] {
    const evaluatorsBefore = this.evaluators;
    const touched = this.merge(message);
    if (touched === undefined) return [];
    return this.update(touched === "evaluators" ? new Set(this.flags.keys()) : new Set([touched]), evaluatorsBefore);
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
    const failure = this.parsed.get(flagKey)?.error;
    if (failure !== undefined) {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.PARSE_ERROR,
        errorMessage: `flag '${flagKey}' cannot be evaluated: ${failure}`,
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

  /** Merges a change into the service's flags; returns the flag it touched, "evaluators", or undefined. */
  private merge(message: ChangeMessage): string | "evaluators" | undefined {
    switch (message.type) {
      case "flag.created":
      case "flag.updated": {
        const current = this.flags.get(message.flag.flagName);
        if (current !== undefined && current.version >= message.flag.version) return undefined;
        this.flags.set(message.flag.flagName, message.flag);
        return message.flag.flagName;
      }
      case "flag.deleted": {
        const current = this.flags.get(message.flagName);
        if (current === undefined || current.version > message.version) return undefined;
        this.flags.delete(message.flagName);
        return message.flagName;
      }
      case "evaluators.updated":
        this.evaluators = message.evaluators;
        return "evaluators";
    }
  }

  /**
   * Re-parses, among `names`, the flags whose flagd definition changed or that reference an
   * evaluator that changed since `evaluatorsBefore`; returns those whose parsed definition differs.
   */
  private update(names: Set<string>, evaluatorsBefore: Evaluators): string[] {
    const changedEvaluators = [...new Set([...Object.keys(evaluatorsBefore), ...Object.keys(this.evaluators)])].filter(
      (name) => jsonOrNull(evaluatorsBefore[name]) !== jsonOrNull(this.evaluators[name]),
    );
    const changed: string[] = [];
    const checks = evaluatorChecks();
    for (const name of names) {
      const flag = this.flags.get(name);
      const previous = this.parsed.get(name);
      if (flag === undefined) {
        if (previous === undefined) continue;
        this.parsed.delete(name);
        this.storage.flags.delete(name);
        changed.push(name);
        continue;
      }
      const definition = toFlagdFlag(flag);
      let source: string;
      try {
        source = JSON.stringify(definition);
      } catch (error) {
        // Nested past what the engine can even serialize: over every bound.
        source = `unreadable:${flag.version}`;
        this.parsed.set(name, { source, feature: undefined, error: String(error) });
        this.storage.flags.delete(name);
        changed.push(name);
        continue;
      }
      const affected = changedEvaluators.some((evaluator) => source.includes(refTo(evaluator)));
      if (previous !== undefined && previous.source === source && !affected) continue;
      const { feature, error } = this.compile(name, definition, checks);
      this.parsed.set(name, { source, feature, error });
      if (feature === undefined) this.storage.flags.delete(name);
      else this.storage.flags.set(name, feature);
      if (previous?.feature?.hash !== feature?.hash) changed.push(name);
    }
    return changed;
  }

  /**
   * One flag, checked against the evaluation bounds and built by flagd-core with its `$ref`s
   * expanded as data (`compileFlag`): a definition from the service that is over a bound (or that
   * flagd-core refuses) is left out and logged, so it resolves as PARSE_ERROR and can neither hang
   * nor exhaust the application, and costs no other flag.
   */
  private compile(
    name: string,
    definition: FlagdFlag,
    checks: EvaluatorChecks,
  ): { feature?: FeatureFlag; error?: string } {
    const compiled = compileFlag(name, definition, this.evaluators, this.logger, checks);
    if (compiled.error === undefined) return { feature: compiled.feature };
    this.logger.warn(`flag '${name}' cannot be evaluated and is left out: ${compiled.error}`);
    return { error: compiled.error };
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
