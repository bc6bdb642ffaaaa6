import type {
  EvaluationContext,
  FlagMetadata,
  FlagValue,
  FlagValueType,
  Logger,
  ResolutionDetails,
} from "@openfeature/core";
import { ErrorCode, StandardResolutionReasons } from "@openfeature/core";
import { type FeatureFlag, FlagdCore, MemoryStorage, type Storage } from "@openfeature/flagd-core";
import { toFlagdFlag } from "./flagd";
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

/** flagd's `$ref` as its parser matches it, in JSON without whitespace. */
const refTo = (name: string) => `{"$ref":${JSON.stringify(name)}}`;

/**
 * The flags in memory: what the service sent, and flagd-core's evaluator over them.
 *
 * flagd-core parses (and hashes) a whole flag configuration at a time, which for thousands of flags
 * costs far too much per change. So each flag is parsed on its own, by flagd-core's own parser
 * (with the `$evaluators` it may reference), and only when its flagd definition or an evaluator it
 * references changed; a flag counts as changed when flagd's hash of its parsed definition did.
 */
export class FlagSet {
  private readonly flags = new Map<string, Flag>();
  /** Per flag: its flagd definition as JSON text, and what flagd-core parsed from it. */
  private readonly parsed = new Map<string, { source: string; feature: FeatureFlag | undefined }>();
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
      (name) => JSON.stringify(evaluatorsBefore[name]) !== JSON.stringify(this.evaluators[name]),
    );
    const evaluatorsJson =
      Object.keys(this.evaluators).length > 0 ? `,"$evaluators":${JSON.stringify(this.evaluators)}` : "";
    const changed: string[] = [];
    const toParse = new Map<string, string>();
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
      const source = JSON.stringify(toFlagdFlag(flag));
      const affected = changedEvaluators.some((evaluator) => source.includes(refTo(evaluator)));
      if (previous === undefined || previous.source !== source || affected) toParse.set(name, source);
    }
    const features = this.parse(toParse, evaluatorsJson);
    for (const [name, source] of toParse) {
      const feature = features.get(name);
      const previous = this.parsed.get(name);
      this.parsed.set(name, { source, feature });
      if (feature === undefined) this.storage.flags.delete(name);
      else this.storage.flags.set(name, feature);
      if (previous?.feature?.hash !== feature?.hash) changed.push(name);
    }
    return changed;
  }

  /**
   * Flags through flagd-core's own parser (which resolves `$ref`s), all at once; if it refuses the
   * lot, one by one, so a flag it refuses (left out, logged) costs no other flag.
   */
  private parse(sources: Map<string, string>, evaluatorsJson: string): Map<string, FeatureFlag | undefined> {
    const parseSet = (entries: Array<[string, string]>) => {
      const storage = new MemoryStorage(this.logger);
      const flags = entries.map(([name, source]) => `${JSON.stringify(name)}:${source}`).join(",");
      storage.setConfigurations(`{"flags":{${flags}}${evaluatorsJson}}`);
      return storage.getFlags();
    };
    if (sources.size === 0) return new Map();
    try {
      return parseSet([...sources]);
    } catch {
      const features = new Map<string, FeatureFlag | undefined>();
      for (const entry of sources) {
        try {
          features.set(entry[0], parseSet([entry]).get(entry[0]));
        } catch (error) {
          this.logger.warn(`flag '${entry[0]}' is not a valid flagd flag and is left out: ${String(error)}`);
          features.set(entry[0], undefined);
        }
      }
      return features;
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
