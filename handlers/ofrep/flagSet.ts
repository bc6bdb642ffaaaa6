import { createHash } from "node:crypto";
import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { FeatureFlag } from "@openfeature/flagd-core";
import { compileFlag, evaluatorChecks } from "../../packages/openfeature-provider/src/evaluation";
import { FLAG_SET_KEY } from "../evaluators/table";
import { toFlagdFlag } from "../flags/definition";
import { type FlagItem, itemDefinition } from "../flags/model";

/**
 * How often a warm OFREP function asks whether the flag set changed. A change made through the
 * REST API commits the flag and the flag-set version in one transaction; the first evaluation more
 * than this long after the commit reads the new version (a strongly consistent GetItem) and reloads.
 * So a change is visible to every container within this bound plus one reload, on AWS as locally.
 */
export const FLAG_SET_CHECK_MS = 250;

/** One flag, built by flagd-core once per flag-set version, ready to evaluate. */
export interface CompiledFlag {
  key: string;
  /** What it was built from: the item's version and time, and the evaluators it uses. */
  fingerprint: string;
  state: "ENABLED" | "DISABLED";
  /** Undefined when flagd-core could not build it (`error` says why). */
  flag?: FeatureFlag;
  error?: string;
  metadata: Record<string, string | number | boolean>;
  /** `clientSide: true`: a client key may evaluate it (CONTRACT.md, "Auth"). */
  clientSide: boolean;
}

/** Which flags a caller sees: every one (read and write tokens), or the client-side ones (client keys). */
export type FlagView = "all" | "clientSide";

export interface CompiledFlagSet {
  /** The flag-set version this was loaded at (0 before the first change). */
  version: number;
  flags: ReadonlyMap<string, CompiledFlag>;
  /**
   * The flag configuration's etag per view: a hash of the fingerprints of the flags the view
   * holds, so it moves exactly when a flag that view sees changes (its version, the evaluators it
   * uses, its clientSide), appears or goes. The OFREP event stream's `etag` and event `id`.
   */
  etags: Readonly<Record<FlagView, string>>;
}

/** Whether a view holds a flag. */
export const isVisible = (flag: CompiledFlag, view: FlagView): boolean => view === "all" || flag.clientSide;

/** The stored `clientSide` attribute (absent on flags stored before it existed: false). */
const clientSideOf = (item: FlagItem): boolean => item.clientSide === true;

/** See CompiledFlagSet.etags. */
function configEtag(flags: Iterable<CompiledFlag>, view: FlagView): string {
  const hash = createHash("sha256").update(view);
  const visible = [...flags].filter((flag) => isVisible(flag, view)).sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const flag of visible) hash.update(`\n${flag.key}\n${flag.fingerprint}`);
  return hash.digest("base64url").slice(0, 22);
}

/** Where the flag set comes from: a cheap version probe and a full load. */
export interface FlagSetSource {
  version(): Promise<number>;
  load(): Promise<{ items: FlagItem[]; evaluators: Record<string, unknown> }>;
}

/** The flag set in DynamoDB: the version item, and both tables scanned (only when it changed). */
export function makeDynamoFlagSetSource({
  doc,
  flagsTable,
  evaluatorsTable,
}: {
  doc: DynamoDBDocumentClient;
  flagsTable: string;
  evaluatorsTable: string;
}): FlagSetSource {
  const scanAll = async (tableName: string): Promise<Record<string, unknown>[]> => {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  };
  return {
    async version() {
      const result = await doc.send(
        new GetCommand({
          TableName: evaluatorsTable,
          Key: { name: FLAG_SET_KEY },
          ConsistentRead: true,
          ProjectionExpression: "setVersion",
        }),
      );
      return Number(result.Item?.setVersion ?? 0);
    },
    async load() {
      const [items, evaluatorItems] = await Promise.all([scanAll(flagsTable), scanAll(evaluatorsTable)]);
      const evaluators: Record<string, unknown> = {};
      for (const item of evaluatorItems) {
        if (item.name !== FLAG_SET_KEY) evaluators[String(item.name)] = JSON.parse(String(item.expressionJson));
      }
      return { items: items as unknown as FlagItem[], evaluators };
    },
  };
}

const quietLogger = () => ({ debug() {}, info() {}, warn() {}, error() {} });

/**
 * Builds every flag with flagd-core, each on its own so that one that cannot be built (stored
 * before a rule changed, or over the evaluation bounds) fails alone, as PARSE_ERROR; `$ref`s are
 * expanded as data (`compileFlag`), never as text.
 * Building is the costly part (about 3 ms a flag: schema check and JsonLogic compilation), so a
 * flag that has not changed since `previous`, nor have the evaluators it uses, is reused.
 */
export function compileFlagSet(
  version: number,
  items: readonly FlagItem[],
  evaluators: Readonly<Record<string, unknown>>,
  previous?: CompiledFlagSet,
  { build = true }: { build?: boolean } = {},
): CompiledFlagSet {
  const flags = new Map<string, CompiledFlag>();
  const checks = evaluatorChecks();
  for (const item of items) {
    const used = Object.fromEntries((item.refs ?? []).filter((n) => n in evaluators).map((n) => [n, evaluators[n]]));
    const clientSide = clientSideOf(item);
    const fingerprint = `${item.version}|${item.updatedAt}|${clientSide}|${JSON.stringify(used)}`;
    const reusable = previous?.flags.get(item.flagName);
    if (reusable !== undefined && reusable.fingerprint === fingerprint) {
      flags.set(item.flagName, reusable);
      continue;
    }
    const compiled: CompiledFlag = { key: item.flagName, fingerprint, state: "ENABLED", metadata: {}, clientSide };
    if (!build) {
      flags.set(item.flagName, { ...compiled, error: "not built: this flag set only tells changes apart" });
      continue;
    }
    try {
      const definition = itemDefinition(item);
      const value = item.valueJson === undefined ? undefined : JSON.parse(item.valueJson);
      compiled.state = definition.state ?? "ENABLED";
      compiled.metadata = definition.metadata ?? {};
      const built = compileFlag(item.flagName, toFlagdFlag(value, definition), evaluators, quietLogger(), checks);
      if (built.error === undefined) compiled.flag = built.feature;
      else compiled.error = built.error;
    } catch (error) {
      // An item this version cannot read (written to the table directly, say) fails alone.
      compiled.error = (error as Error).message;
    }
    flags.set(item.flagName, compiled);
  }
  return {
    version,
    flags,
    etags: { all: configEtag(flags.values(), "all"), clientSide: configEtag(flags.values(), "clientSide") },
  };
}

export interface FlagSetCacheOptions {
  source: FlagSetSource;
  /** Default FLAG_SET_CHECK_MS. */
  checkIntervalMs?: number;
  clock?: () => number;
  /**
   * Default true. False: flags are not built with flagd-core (the costly part), only told apart
   * by their fingerprints and etags — all the event stream needs, at a fraction of the CPU.
   */
  build?: boolean;
}

/**
 * The flag set a warm container evaluates against. Between version checks it costs nothing; a
 * check is one GetItem; a reload (both tables scanned) happens only when the version moved.
 * Concurrent callers share one check and one reload.
 */
export function makeFlagSetCache({
  source,
  checkIntervalMs = FLAG_SET_CHECK_MS,
  clock = Date.now,
  build = true,
}: FlagSetCacheOptions) {
  let current: CompiledFlagSet | undefined;
  let checkedAt = -Infinity;
  let pending: Promise<CompiledFlagSet> | undefined;
  let pendingSince = -Infinity;
  let reloads = 0;
  let checks = 0;

  const refresh = async (startedAt: number): Promise<CompiledFlagSet> => {
    checks++;
    const version = await source.version();
    if (current === undefined || current.version !== version) {
      const { items, evaluators } = await source.load();
      reloads++;
      current = compileFlagSet(version, items, evaluators, current, { build });
    }
    checkedAt = startedAt;
    return current;
  };

  const check = (): Promise<CompiledFlagSet> => {
    if (pending === undefined) {
      pendingSince = clock();
      pending = refresh(pendingSince).finally(() => {
        pending = undefined;
      });
    }
    return pending;
  };

  return {
    /**
     * The flag set, checked for a change at most every `checkIntervalMs`; with `recheck`, checked
     * by a version probe that starts now or later (a check already under way that started earlier
     * may have missed the change the caller has heard of, so it is followed by another).
     */
    async get(options: { recheck?: boolean } = {}): Promise<CompiledFlagSet> {
      if (options.recheck === true) {
        const requestedAt = clock();
        // A probe started in the same millisecond may still predate the change: not trusted.
        if (pending !== undefined && pendingSince <= requestedAt) await pending.catch(() => undefined);
        if (current === undefined || checkedAt <= requestedAt) return check();
        return current;
      }
      if (current !== undefined && clock() - checkedAt < checkIntervalMs) return current;
      return check();
    },
    /** For the bench and tests: how many version checks and reloads this cache made. */
    stats: () => ({ checks, reloads }),
  };
}

export type FlagSetCache = ReturnType<typeof makeFlagSetCache>;
