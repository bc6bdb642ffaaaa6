import {
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { BOUNDS } from "../../packages/openfeature-provider/src/evaluation/limits";
import { serviceError } from "../errors";
import { backoff, bumpFlagSet, isConditionFailure, runTransaction, TRANSACTION_ATTEMPTS } from "../flags/transactions";
import { makeEvaluatorHistoryStore, recordEvaluatorHistory } from "./history";
import {
  type Evaluator,
  type EvaluatorItem,
  type EvaluatorSet,
  evaluatorPosition,
  itemToEvaluator,
  versionOfEvaluator,
} from "./model";
import { checkEvaluatorBytes, checkEvaluatorsTotal, evaluatorEntryBytes } from "./size";
import { FLAG_SET_KEY } from "./table";

export type { Evaluator, EvaluatorSet } from "./model";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** The flag-set item's fields an evaluator write reads. */
interface FlagSetItem {
  setVersion?: number;
  /**
   * The sum of every evaluator's `evaluatorEntryBytes`, kept by evaluator writes in their own
   * transactions; absent until the first evaluator write of this version of the service.
   */
  evaluatorsBytes?: number;
}

/**
 * The most `evaluatorsBytes` may be: the evaluators' JSON, one byte more than their entries (the
 * braces, less the last comma), within `BOUNDS.evaluatorsTotalBytes`.
 */
const MAX_ENTRY_BYTES = BOUNDS.evaluatorsTotalBytes - 1;

const evaluatorNotFound = (name: string) => serviceError("EVALUATOR_NOT_FOUND", `evaluator '${name}' does not exist`);

const versionConflict = (name: string, expected: number, current: EvaluatorItem | undefined) =>
  serviceError(
    "VERSION_CONFLICT",
    expected === 0 && current !== undefined
      ? `evaluator '${name}' was created meanwhile (version ${current.version}, by ${current.updatedBy ?? "unknown"}); read it again and retry`
      : current === undefined
        ? `evaluator '${name}' does not exist, so it is not at version ${expected}; send no If-Match to create it`
        : `evaluator '${name}' is at version ${current.version}, not ${expected}; read it again and retry`,
  );

export type EvaluatorReads = ReturnType<typeof makeEvaluatorReads>;

/**
 * Reads of the evaluators table, all strongly consistent: what the realtime functions need
 * (they have no history table). A consistent read reflects every write acknowledged before it,
 * and a stream record is only emitted for a committed write, so a read made after a stream record
 * arrives sees that record's change or a later one (see `makeFanoutHandler`).
 */
export function makeEvaluatorReads({ doc, tableName }: { doc: DynamoDBDocumentClient; tableName: string }) {
  const scanItems = async (): Promise<EvaluatorItem[]> => {
    const items: EvaluatorItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
      );
      items.push(...((page.Items ?? []) as EvaluatorItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items.filter((item) => item.name !== FLAG_SET_KEY).sort((a, b) => a.name.localeCompare(b.name));
  };

  const getItem = async (name: string): Promise<EvaluatorItem | undefined> => {
    const result = await doc.send(new GetCommand({ TableName: tableName, Key: { name }, ConsistentRead: true }));
    return result.Item as EvaluatorItem | undefined;
  };

  return {
    scanItems,
    getItem,

    async get(name: string): Promise<Evaluator> {
      const item = await getItem(name);
      if (item === undefined) throw evaluatorNotFound(name);
      return itemToEvaluator(item);
    },

    /** Every evaluator (the table holds a few dozen at most; one Scan, paginated). */
    async list(): Promise<Evaluator[]> {
      return (await scanItems()).map(itemToEvaluator);
    },

    /** Every evaluator's expression and position, as `evaluators.updated` carries them. */
    async state(): Promise<EvaluatorSet> {
      const items = await scanItems();
      return {
        expressions: Object.fromEntries(items.map((item) => [item.name, JSON.parse(item.expressionJson)])),
        positions: Object.fromEntries(items.map((item) => [item.name, evaluatorPosition(item)])),
      };
    },
  };
}

export type EvaluatorStore = ReturnType<typeof makeEvaluatorStore>;

/**
 * Shared evaluators, versioned like flags. Every change is one transaction: the evaluator under
 * its condition (absent for a create, the version read for a replace, the caller's stamp for a
 * delete), the flag-set item (its version, which OFREP caches watch, and the evaluators' running
 * size, under the condition that it stays within `BOUNDS.evaluatorsTotalBytes`), and the change's
 * history entry. So concurrent writers cannot together exceed the bound, and a change and its
 * entry are written together or not at all. A delete requires the reference count flags
 * maintain in their own transactions to be 0.
 */
export function makeEvaluatorStore({
  doc,
  tableName,
  historyTableName,
  now = () => new Date(),
}: {
  doc: DynamoDBDocumentClient;
  /** The evaluators table. */
  tableName: string;
  /** The history table, where evaluators' entries sit beside flags' (see `evaluators/history.ts`). */
  historyTableName: string;
  now?: () => Date;
}) {
  const reads = makeEvaluatorReads({ doc, tableName });
  const history = makeEvaluatorHistoryStore({ doc, tableName, historyTableName });
  /**
   * Runs an evaluator transaction: true when it committed, false when one of its conditions
   * failed (a race the caller retries after reading again); anything else is a fault.
   */
  const transact = async (items: TransactItem[]): Promise<boolean> => {
    const codes = (await runTransaction(doc, () => items))?.codes;
    if (codes === undefined) return true;
    if (codes.every((code) => code === "None" || code === "ConditionalCheckFailed")) return false;
    throw new Error(`evaluator transaction cancelled: ${codes.join(", ")}`);
  };

  const readFlagSet = async (): Promise<FlagSetItem> =>
    ((await doc.send(new GetCommand({ TableName: tableName, Key: { name: FLAG_SET_KEY }, ConsistentRead: true })))
      .Item as FlagSetItem | undefined) ?? {};

  /**
   * The flag-set item's part in an evaluator write that moves the evaluators' size by `delta`:
   * the version bump, and the running size under a condition that keeps it within the bound. A
   * write that grows it is refused here (400) when the size read says it would not fit; the
   * condition catches a concurrent write that made it not fit since. Without a running size yet
   * (evaluators stored by an earlier version of the service), it is counted once from a Scan and
   * set on condition that nothing changed since the flag-set version read before the Scan.
   */
  const flagSetChange = async (flagSet: FlagSetItem, delta: number, at: string): Promise<TransactItem> => {
    if (flagSet.evaluatorsBytes !== undefined) {
      if (delta > 0) checkEvaluatorsTotal(Number(flagSet.evaluatorsBytes) + delta);
      return {
        Update: {
          TableName: tableName,
          Key: { name: FLAG_SET_KEY },
          UpdateExpression: "ADD setVersion :one, evaluatorsBytes :delta SET updatedAt = :at",
          ...(delta > 0 ? { ConditionExpression: "evaluatorsBytes <= :room" } : {}),
          ExpressionAttributeValues: {
            ":one": 1,
            ":delta": delta,
            ":at": at,
            ...(delta > 0 ? { ":room": MAX_ENTRY_BYTES - delta } : {}),
          },
        },
      };
    }
    if (delta < 0) {
      // Nothing counted yet: the next write that grows the evaluators counts them.
      return bumpFlagSet(tableName, at);
    }
    const counted = (await reads.scanItems()).reduce(
      (sum, item) => sum + evaluatorEntryBytes(item.name, item.expressionJson),
      0,
    );
    if (delta > 0) checkEvaluatorsTotal(counted + delta);
    const unchanged = flagSet.setVersion === undefined ? "attribute_not_exists(setVersion)" : "setVersion = :seen";
    return {
      Update: {
        TableName: tableName,
        Key: { name: FLAG_SET_KEY },
        UpdateExpression: "ADD setVersion :one SET updatedAt = :at, evaluatorsBytes = :total",
        ConditionExpression: `attribute_not_exists(evaluatorsBytes) AND ${unchanged}`,
        ExpressionAttributeValues: {
          ":one": 1,
          ":at": at,
          ":total": counted + delta,
          ...(flagSet.setVersion === undefined ? {} : { ":seen": flagSet.setVersion }),
        },
      },
    };
  };

  return {
    ...reads,

    /**
     * Creates or replaces an evaluator; `created` tells which. With `expectedVersion` (If-Match),
     * applies only while the stored version is that one (412 otherwise, also when there is none);
     * `expectedVersion` 0 creates only (412 when it exists).
     */
    async put(
      name: string,
      expression: unknown,
      actor: string | null,
      expectedVersion?: number,
    ): Promise<{ created: boolean; evaluator: Evaluator }> {
      const expressionJson = JSON.stringify(expression);
      checkEvaluatorBytes(expressionJson);
      for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        // Lost a race (created, replaced or deleted meanwhile, or the size moved): read again,
        // out of step with the others.
        if (attempt > 0) await backoff(attempt - 1);
        const current = await reads.getItem(name);
        // expectedVersion 0: create only (an import's plan saw no such evaluator).
        const matches =
          expectedVersion === 0
            ? current === undefined
            : current !== undefined && Number(current.version) === expectedVersion;
        if (expectedVersion !== undefined && !matches) throw versionConflict(name, expectedVersion, current);
        const delta =
          evaluatorEntryBytes(name, expressionJson) -
          (current === undefined ? 0 : evaluatorEntryBytes(name, current.expressionJson));
        const at = now().toISOString();
        let item: EvaluatorItem;
        let write: TransactItem;
        if (current === undefined) {
          // A name deleted before keeps its history: this life's entries follow the earlier ones.
          const base = await history.lastSeq(name);
          item = {
            name,
            expressionJson,
            refCount: 0,
            version: 1,
            createdAt: at,
            updatedAt: at,
            createdBy: actor,
            updatedBy: actor,
            ...(base > 0 ? { historyBase: base } : {}),
          };
          write = {
            Put: {
              TableName: tableName,
              Item: item,
              ConditionExpression: "attribute_not_exists(#n)",
              ExpressionAttributeNames: { "#n": "name" },
            },
          };
        } else {
          const version = Number(current.version);
          item = { ...current, expressionJson, version: version + 1, updatedAt: at, updatedBy: actor };
          // An Update, not a Put: flags' transactions move the reference count meanwhile.
          write = {
            Update: {
              TableName: tableName,
              Key: { name },
              UpdateExpression: "SET expressionJson = :e, version = :next, updatedAt = :at, updatedBy = :actor",
              ConditionExpression: "version = :old",
              ExpressionAttributeValues: {
                ":e": expressionJson,
                ":next": version + 1,
                ":old": current.version,
                ":at": at,
                ":actor": actor,
              },
            },
          };
        }
        const flagSet = await flagSetChange(await readFlagSet(), delta, at);
        const entry = {
          name,
          seq: evaluatorPosition(item),
          version: Number(item.version),
          at,
          actor,
          evaluator: versionOfEvaluator(item),
        };
        if (await transact([write, flagSet, recordEvaluatorHistory(historyTableName, entry)])) {
          return { created: current === undefined, evaluator: itemToEvaluator(item) };
        }
      }
      throw new Error(`write of evaluator '${name}' kept losing to concurrent changes`);
    },

    /**
     * Deletes an evaluator no flag references: 404 when missing, 409 EVALUATOR_IN_USE when used.
     * DynamoDB's REMOVE stream record carries only the old image, so the deleter and the time
     * are stamped first (version unchanged: no message, no audit line of its own); the delete
     * then applies only to the item this caller stamped.
     */
    async remove(name: string, actor: string | null = null): Promise<void> {
      for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        if (attempt > 0) await backoff(attempt - 1);
        const at = now().getTime();
        const deletionId = `${at}-${Math.random().toString(36).slice(2)}`;
        let stamped: EvaluatorItem;
        try {
          const result = await doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { name },
              // deletedAt (ms): the stream's own time is rounded (to the minute on DynamoDB Local).
              UpdateExpression: "SET deletedBy = :actor, deletedAt = :at, deletionId = :deletionId",
              ConditionExpression:
                "attribute_exists(expressionJson) AND (attribute_not_exists(refCount) OR refCount = :zero)",
              ExpressionAttributeValues: { ":actor": actor, ":at": at, ":deletionId": deletionId, ":zero": 0 },
              ReturnValues: "ALL_NEW",
            }),
          );
          stamped = result.Attributes as EvaluatorItem;
        } catch (error) {
          if (!isConditionFailure(error)) throw error;
          const current = await reads.getItem(name);
          if (current === undefined) throw evaluatorNotFound(name);
          const count = Number(current.refCount ?? 0);
          // Released between the stamp and this read: try again.
          if (count === 0) continue;
          throw serviceError(
            "EVALUATOR_IN_USE",
            `evaluator '${name}' is referenced by ${count} flag${count === 1 ? "" : "s"}; remove the $ref from them first`,
          );
        }
        const version = Number(stamped.version);
        const flagSet = await flagSetChange(
          await readFlagSet(),
          -evaluatorEntryBytes(name, stamped.expressionJson),
          new Date(at).toISOString(),
        );
        // The deletion's entry: the version it deleted, no evaluator; after that version's own entry.
        const entry = { name, seq: evaluatorPosition(stamped) + 1, version, at: new Date(at).toISOString(), actor };
        const deleted = await transact([
          {
            Delete: {
              TableName: tableName,
              Key: { name },
              ConditionExpression:
                "deletionId = :deletionId AND version = :version AND (attribute_not_exists(refCount) OR refCount = :zero)",
              ExpressionAttributeValues: { ":deletionId": deletionId, ":version": stamped.version, ":zero": 0 },
            },
          },
          flagSet,
          recordEvaluatorHistory(historyTableName, entry),
        ]);
        if (deleted) return;
        // A flag came to reference it, a replace or another delete came first, or the size moved:
        // stamp again, which answers 409 or 404 when that is what happened.
      }
      throw new Error(`delete of evaluator '${name}' kept losing to concurrent changes`);
    },
  };
}

/** All shared evaluators by name (flagd's `$evaluators`), as snapshots carry them. */
export function evaluatorsByName(store: Pick<EvaluatorReads, "state">): () => Promise<Record<string, unknown>> {
  return async () => (await store.state()).expressions;
}
