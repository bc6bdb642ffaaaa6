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
}

export interface CompiledFlagSet {
  /** The flag-set version this was loaded at (0 before the first change). */
  version: number;
  flags: ReadonlyMap<string, CompiledFlag>;
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
): CompiledFlagSet {
  const flags = new Map<string, CompiledFlag>();
  const checks = evaluatorChecks();
  for (const item of items) {
    const used = Object.fromEntries((item.refs ?? []).filter((n) => n in evaluators).map((n) => [n, evaluators[n]]));
    const fingerprint = `${item.version}|${item.updatedAt}|${JSON.stringify(used)}`;
    const reusable = previous?.flags.get(item.flagName);
    if (reusable !== undefined && reusable.fingerprint === fingerprint) {
      flags.set(item.flagName, reusable);
      continue;
    }
    const compiled: CompiledFlag = { key: item.flagName, fingerprint, state: "ENABLED", metadata: {} };
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
  return { version, flags };
}

export interface FlagSetCacheOptions {
  source: FlagSetSource;
  /** Default FLAG_SET_CHECK_MS. */
  checkIntervalMs?: number;
  clock?: () => number;
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
}: FlagSetCacheOptions) {
  let current: CompiledFlagSet | undefined;
  let checkedAt = -Infinity;
  let pending: Promise<CompiledFlagSet> | undefined;
  let reloads = 0;
  let checks = 0;

  const refresh = async (): Promise<CompiledFlagSet> => {
    const startedAt = clock();
    checks++;
    const version = await source.version();
    if (current === undefined || current.version !== version) {
      const { items, evaluators } = await source.load();
      reloads++;
      current = compileFlagSet(version, items, evaluators, current);
    }
    checkedAt = startedAt;
    return current;
  };

  return {
    async get(): Promise<CompiledFlagSet> {
      if (current !== undefined && clock() - checkedAt < checkIntervalMs) return current;
      pending ??= refresh().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    /** For the bench and tests: how many version checks and reloads this cache made. */
    stats: () => ({ checks, reloads }),
  };
}

export type FlagSetCache = ReturnType<typeof makeFlagSetCache>;
