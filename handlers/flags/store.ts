import {
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { flagExists, flagNotFound, serviceError, versionConflict } from "../errors";
import { evaluatorsTableFor } from "../evaluators/table";
import { encodeCursor } from "./cursor";
import { historySeq, historyTableFor, recordHistory, versionOf } from "./history";
import { makeHistoryStore } from "./historyStore";
import { type Flag, type FlagItem, itemToFlag } from "./model";
import { STAMP_ATTRIBUTE, STAMP_RESOLUTION_MS } from "./stamp";
import {
  backoff,
  bumpFlagSet,
  countReference,
  isConditionFailure,
  runTransaction,
  TRANSACTION_ATTEMPTS,
} from "./transactions";
import type { ChangeVia } from "../schedules/model";
import type { CreateFlagInput, UpdateFlagInput } from "./validation";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export interface FlagStoreDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The evaluators table (reference counts, flag-set version). Default `<tableName>-evaluators`. */
  evaluatorsTableName?: string;
  /** Every change's history entry. Default `<tableName>-history`. */
  historyTableName?: string;
  /** Injected so tests can control timestamps. */
  now?: () => Date;
}

/** How a write other than a plain PUT (a schedule, a rollout step) goes through `update`. */
export interface UpdateOptions {
  /** What made the change: stored on the item, so the version's audit line names it. */
  via?: ChangeVia;
  /**
   * One more item for the write's transaction (the last), so the change commits together with it
   * or not at all: a schedule's move from pending to applied. When its condition fails, `failed()`
   * is thrown and nothing was written.
   */
  guard?: { item: (next: { version: number; at: string }) => TransactItem; failed: () => Error };
  /**
   * A rollout's own write (handlers/rollouts): the flag may carry this rollout's marker (and no
   * other's), and keeps it (`hold: true`, a step) or loses it (the last step, an abort). Without
   * this option a flag under a running rollout is refused with 409 ROLLOUT_RUNNING.
   */
  rollout?: { startedAt: string; hold: boolean };
}

export interface FlagPage {
  flags: Flag[];
  nextCursor?: string;
}

export type FlagStore = ReturnType<typeof makeFlagStore>;

const missingEvaluator = (name: string) =>
  serviceError(
    "VALIDATION_FAILED",
    `targeting: $ref '${name}' names no evaluator; create it with PUT /evaluators/${name}`,
  );

/** `added` and `removed` evaluator names between two reference lists. */
function referenceChanges(before: readonly string[], after: readonly string[]) {
  return {
    added: after.filter((name) => !before.includes(name)),
    removed: before.filter((name) => !after.includes(name)),
  };
}

/**
 * Flag persistence. Every change is one DynamoDB transaction: the flag write under its condition
 * (absent for a create, the version read for an update), the reference counts of the evaluators
 * its targeting gains or loses, and the flag-set version bump. So concurrent creates cannot both
 * win, a flag never references a deleted evaluator, and OFREP caches see every change through one
 * item. The change's history entry is the transaction's last item, so a change and its entry
 * are written together or not at all. A read writes at most once a minute per flag (see `read`):
 * a stamp, which cannot overwrite an update and writes no history. Every change removes the stamp
 * marker (./stamp.ts), so that stream consumers can drop stamps by filter.
 */
export function makeFlagStore({
  doc,
  tableName,
  evaluatorsTableName,
  historyTableName,
  now = () => new Date(),
}: FlagStoreDeps) {
  const evaluatorsTable = evaluatorsTableName ?? evaluatorsTableFor(tableName);
  const historyTable = historyTableName ?? historyTableFor(tableName);
  const history = makeHistoryStore({ doc, tableName, historyTableName: historyTable });

  type TransactItems = NonNullable<TransactWriteCommandInput["TransactItems"]>;

  /** Runs a flag transaction; its cancellation codes when a condition failed. */
  const transact = async (items: () => TransactItems): Promise<string[] | undefined> =>
    (await runTransaction(doc, items))?.codes;

  /** The evaluator a failed reference-count item named, if one did. */
  const failedReference = (codes: string[], references: readonly string[], offset = 1): string | undefined =>
    references.find((_, i) => codes[i + offset] === "ConditionalCheckFailed");

  /** Whether the history entry (the transaction's last item) found its position taken. */
  const historyTaken = (codes: string[]): boolean => codes.at(-1) === "ConditionalCheckFailed";

  /**
   * Updates of one flag that this store runs at once, one after the other. Each would otherwise
   * read the same version, and all but one would lose the transaction and read again: with n
   * concurrent writers a write takes up to n attempts (the local runtime, where every request
   * shares one store, answered 50 writers of one flag at 6 writes/s, 90 ms of CPU each). A Lambda
   * instance serves one request at a time, so there this changes nothing; writers in different
   * processes still meet at the version condition.
   */
  // A promise chain per flag, not async-mutex's Mutex (+3.2 KB minified per bundle, tslib
  // included) or p-limit(1) (+1.6 KB, ESM only): either still needs this map of lanes by flag.
  const lanes = new Map<string, Promise<unknown>>();
  const inLane = <T>(flagName: string, run: () => Promise<T>): Promise<T> => {
    const result = (lanes.get(flagName) ?? Promise.resolve()).then(run);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    lanes.set(flagName, done);
    void done.then(() => {
      if (lanes.get(flagName) === done) lanes.delete(flagName);
    });
    return result;
  };

  const readItem = async (flagName: string): Promise<FlagItem | undefined> => {
    const result = await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true }));
    return result.Item as FlagItem | undefined;
  };

  return {
    async create(input: CreateFlagInput, actor: string | null): Promise<Flag> {
      const at = now().toISOString();
      const item: FlagItem = {
        flagName: input.flagName,
        version: 1,
        createdAt: at,
        updatedAt: at,
        createdBy: actor,
        updatedBy: actor,
        clientSide: input.clientSide === true,
      };
      if (input.value !== undefined) item.valueJson = JSON.stringify(input.value);
      if (input.definition !== undefined) item.definitionJson = JSON.stringify(input.definition);
      if (input.refs !== undefined && input.refs.length > 0) item.refs = input.refs;
      if (input.description !== undefined) item.description = input.description;
      const refs = input.refs ?? [];
      for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        // A name deleted before keeps its history: this life's entries follow the earlier ones.
        const base = await history.lastSeq(input.flagName);
        if (base > 0) item.historyBase = base;
        else delete item.historyBase;
        const entry = { flagName: input.flagName, seq: historySeq(item, 1), version: 1, at, actor };
        const codes = await transact(() => [
          { Put: { TableName: tableName, Item: item, ConditionExpression: "attribute_not_exists(flagName)" } },
          ...refs.map((name) => countReference(evaluatorsTable, name, 1)),
          bumpFlagSet(evaluatorsTable, at),
          recordHistory(historyTable, { ...entry, flag: versionOf(item) }),
        ]);
        if (codes === undefined) return itemToFlag(item);
        if (codes[0] === "ConditionalCheckFailed") throw flagExists(input.flagName);
        const missing = failedReference(codes, refs);
        if (missing !== undefined) throw missingEvaluator(missing);
        if (!historyTaken(codes)) {
          throw new Error(`create of '${input.flagName}' cancelled: ${codes.join(", ")}`);
        }
        // A concurrent delete of this name took the position read: read it again, after a
        // jittered pause so writers racing on one name fall out of step instead of in.
        await backoff(attempt);
      }
      throw new Error(`create of '${input.flagName}' kept losing to concurrent changes`);
    },

    /**
     * Reads a flag and stamps `lastAccessed`, at most once a minute: a flag stamped within the
     * minute is only read (one GetItem, no write at all). A stale stamp is moved by an UpdateItem
     * that sets nothing but the stamp, on condition that the flag still exists (a concurrent
     * delete is not undone) and that its stamp is still stale (a concurrent reader's stamp is
     * neither repeated nor moved backwards). Losing that race is no error: the read happened.
     */
    async read(flagName: string): Promise<Flag> {
      const item = await readItem(flagName);
      if (item === undefined) throw flagNotFound(flagName);
      const at = now();
      const cutoff = new Date(at.getTime() - STAMP_RESOLUTION_MS).toISOString();
      if (item.lastAccessed !== undefined && item.lastAccessed >= cutoff) return itemToFlag(item);
      const lastAccessed = at.toISOString();
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName },
            UpdateExpression: `SET lastAccessed = :now, ${STAMP_ATTRIBUTE} = :stamp`,
            ConditionExpression:
              "attribute_exists(flagName) AND (attribute_not_exists(lastAccessed) OR lastAccessed < :cutoff)",
            ExpressionAttributeValues: { ":now": lastAccessed, ":cutoff": cutoff, ":stamp": "lastAccessed" },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      return itemToFlag({ ...item, lastAccessed });
    },

    /**
     * Replaces a flag's value and definition (and description and clientSide, when given) and
     * bumps its version.
     * With `expectedVersion`, applies only if the stored version still matches; without, a
     * concurrent update makes it read again and retry, so nothing is lost.
     */
    async update(
      flagName: string,
      input: UpdateFlagInput,
      actor: string | null,
      expectedVersion?: number,
      options: UpdateOptions = {},
    ): Promise<Flag> {
      return inLane(flagName, async () => {
        for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
          const old = await readItem(flagName);
          if (old === undefined) throw flagNotFound(flagName);
          const version = Number(old.version);
          if (old.rolloutStartedAt !== undefined && old.rolloutStartedAt !== options.rollout?.startedAt) {
            throw serviceError(
              "ROLLOUT_RUNNING",
              `flag '${flagName}' is being rolled out (since ${old.rolloutStartedAt}); abort the rollout to change it`,
            );
          }
          if (expectedVersion !== undefined && version !== expectedVersion) {
            throw versionConflict(flagName, expectedVersion, version);
          }
          const at = now().toISOString();
          const next: FlagItem = { ...old, version: version + 1, updatedAt: at, updatedBy: actor };
          // The rollout's marker: set (or kept) by its steps, gone with its last step or its abort.
          delete next.rolloutStartedAt;
          if (options.rollout?.hold === true) next.rolloutStartedAt = options.rollout.startedAt;
          // What made this version, for its audit line; a plain write carries none (never a stale one).
          delete next.via;
          if (options.via !== undefined) next.via = options.via;
          delete next.valueJson;
          delete next.definitionJson;
          delete next.refs;
          delete next.stamp;
          if (input.value !== undefined) next.valueJson = JSON.stringify(input.value);
          if (input.definition !== undefined) next.definitionJson = JSON.stringify(input.definition);
          if (input.refs !== undefined && input.refs.length > 0) next.refs = input.refs;
          if (input.description !== undefined) next.description = input.description;
          if (input.clientSide !== undefined) next.clientSide = input.clientSide;

          const sets = ["version = :next", "updatedAt = :at", "updatedBy = :actor"];
          // A change is no stamp: the stream record's new image must say so (./stamp.ts).
          const removes: string[] = [STAMP_ATTRIBUTE];
          const values: Record<string, unknown> = { ":next": version + 1, ":at": at, ":actor": actor, ":old": version };
          for (const field of [
            "valueJson",
            "definitionJson",
            "refs",
            "description",
            "clientSide",
            "via",
            "rolloutStartedAt",
          ] as const) {
            if (next[field] === undefined) {
              if (field !== "description" && field !== "clientSide") removes.push(field);
              continue;
            }
            sets.push(`${field} = :${field}`);
            values[`:${field}`] = next[field];
          }
          const { added, removed } = referenceChanges(old.refs ?? [], next.refs ?? []);
          const entry = { flagName, seq: historySeq(old, version + 1), version: version + 1, at, actor };
          const codes = await transact(() => [
            {
              Update: {
                TableName: tableName,
                Key: { flagName },
                UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
                ConditionExpression: "version = :old",
                ExpressionAttributeValues: values,
              },
            },
            ...added.map((name) => countReference(evaluatorsTable, name, 1)),
            ...removed.map((name) => countReference(evaluatorsTable, name, -1)),
            bumpFlagSet(evaluatorsTable, at),
            recordHistory(historyTable, { ...entry, flag: versionOf(next) }),
            ...(options.guard === undefined ? [] : [options.guard.item({ version: version + 1, at })]),
          ]);
          if (codes === undefined) return itemToFlag(next);
          if (options.guard !== undefined && codes.at(-1) === "ConditionalCheckFailed") throw options.guard.failed();
          const missing = failedReference(codes, added);
          if (missing !== undefined) throw missingEvaluator(missing);
          if (codes[0] !== "ConditionalCheckFailed") {
            throw new Error(`update of '${flagName}' cancelled: ${codes.join(", ")}`);
          }
          // Someone else changed or deleted the flag since it was read: read again (jittered).
          await backoff(attempt);
        }
        throw new Error(`update of '${flagName}' kept losing to concurrent updates`);
      });
    },

    /**
     * Deletes a flag. DynamoDB's REMOVE stream record carries only the old image, so the deleter
     * and the time are stamped first (`deletedBy`, `deletedAt`, version unchanged: no push, no audit line of its own); the
     * delete then applies only to the item this caller stamped.
     */
    async remove(flagName: string, actor: string | null = null): Promise<void> {
      for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        const at = now().getTime();
        const deletionId = `${at}-${Math.random().toString(36).slice(2)}`;
        let stamped: FlagItem;
        try {
          const result = await doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { flagName },
              // deletedAt (ms): the stream's own time is rounded (to the minute on DynamoDB Local).
              // A stamp (./stamp.ts): its record reaches no consumer; the REMOVE's old image has it all.
              UpdateExpression: `SET deletedBy = :actor, deletedAt = :at, deletionId = :deletionId, ${STAMP_ATTRIBUTE} = :stamp`,
              ConditionExpression: "attribute_exists(flagName)",
              ExpressionAttributeValues: {
                ":actor": actor,
                ":at": at,
                ":deletionId": deletionId,
                ":stamp": "deletedBy",
              },
              ReturnValues: "ALL_NEW",
            }),
          );
          stamped = result.Attributes as FlagItem;
        } catch (error) {
          if (isConditionFailure(error)) throw flagNotFound(flagName);
          throw error;
        }
        // The version condition keeps the references read with the stamp the ones released.
        const refs = stamped.refs ?? [];
        const version = Number(stamped.version);
        // The deletion's entry: the version it deleted, no flag; after that version's own entry.
        const entry = {
          flagName,
          seq: historySeq(stamped, version + 1),
          version,
          at: new Date(at).toISOString(),
          actor,
        };
        const codes = await transact(() => [
          {
            Delete: {
              TableName: tableName,
              Key: { flagName },
              ConditionExpression: "deletionId = :deletionId AND version = :version",
              ExpressionAttributeValues: { ":deletionId": deletionId, ":version": stamped.version },
            },
          },
          ...refs.map((name) => countReference(evaluatorsTable, name, -1)),
          bumpFlagSet(evaluatorsTable, now().toISOString()),
          recordHistory(historyTable, entry),
        ]);
        if (codes === undefined) return;
        if (codes[0] !== "ConditionalCheckFailed" && historyTaken(codes)) {
          throw new Error(`delete of '${flagName}' cancelled: ${codes.join(", ")}`);
        }
        // A concurrent delete re-stamped it, or an update changed it: stamp again and retry,
        // which answers 404 once the other delete has won. Without the jittered pause, deleters
        // of one name re-stamp over each other in lockstep and can all run out of attempts.
        await backoff(attempt);
      }
      throw new Error(`delete of '${flagName}' kept losing to concurrent changes`);
    },

    /** Every flag (for a realtime snapshot); reads never stamp `lastAccessed` here. */
    async all(): Promise<Flag[]> {
      const items: FlagItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
        items.push(...((page.Items ?? []) as FlagItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items.map(itemToFlag);
    },

    /**
     * One page of flags, in the table's (unspecified) order. Reads one item past the page so
     * that `nextCursor` is present exactly when another non-empty page follows.
     */
    async list(limit: number, after?: string): Promise<FlagPage> {
      const items: FlagItem[] = [];
      let startKey: Record<string, unknown> | undefined = after === undefined ? undefined : { flagName: after };
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: tableName,
            Limit: limit + 1 - items.length,
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...((page.Items ?? []) as FlagItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && items.length <= limit);

      const flags = items.slice(0, limit).map(itemToFlag);
      const last = flags.at(-1);
      return items.length > limit && last !== undefined
        ? { flags, nextCursor: encodeCursor(last.flagName) }
        : { flags };
    },
  };
}
