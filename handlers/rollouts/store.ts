import {
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { FlagItem } from "../flags/model";
import { ROLLOUT_ID, type RolloutItem } from "./model";
import { isConditionFailure } from "../flags/transactions";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export interface RolloutStoreDeps {
  doc: DynamoDBDocumentClient;
  /** The schedules table, which keeps each flag's rollout as the item `(flagName, "rollout")`. */
  tableName: string;
  /** The flags table: the flag a rollout starts from (a strongly consistent GetItem, no stamp). */
  flagsTableName: string;
}

export type RolloutStore = ReturnType<typeof makeRolloutStore>;

/** What ends a rollout without a step: an abort, or a stop of its own (the flag deleted). */
export interface RolloutEnd {
  at: string;
  /** The flag version the abort wrote; absent when it wrote none. */
  version?: number;
  abortedBy?: string | null;
  abortedByAlarm?: string;
  error?: { code: string; message: string };
}

/**
 * Rollout persistence. A rollout moves only from `running`, and each move is conditional on the
 * rollout being the one it was read as (`startedAt`) and, for a step, on the step it was at: a
 * step and an abort (or two deliveries of one step) race on one condition and one of them wins.
 * Starts, steps and aborts that write the flag go into the flag write's own transaction.
 */
export function makeRolloutStore({ doc, tableName, flagsTableName }: RolloutStoreDeps) {
  const key = (flagName: string) => ({ flagName, id: ROLLOUT_ID });
  const runningCondition = {
    ConditionExpression: "#status = :running AND startedAt = :startedAt",
  };
  const endUpdate = (flagName: string, startedAt: string, end: RolloutEnd) => {
    const sets = ["#status = :aborted", "abortedAt = :at"];
    const values: Record<string, unknown> = {
      ":running": "running",
      ":startedAt": startedAt,
      ":aborted": "aborted",
      ":at": end.at,
    };
    const names: Record<string, string> = { "#status": "status" };
    const add = (field: string, value: unknown) => {
      sets.push(`#${field} = :${field}`);
      names[`#${field}`] = field;
      values[`:${field}`] = value;
    };
    if (end.version !== undefined) add("version", end.version);
    if (end.abortedByAlarm !== undefined) add("abortedByAlarm", end.abortedByAlarm);
    else if (end.error === undefined) add("abortedBy", end.abortedBy ?? null);
    if (end.error !== undefined) {
      add("errorCode", end.error.code);
      add("errorMessage", end.error.message);
    }
    return {
      TableName: tableName,
      Key: key(flagName),
      UpdateExpression: `SET ${sets.join(", ")} REMOVE nextStepAt`,
      ...runningCondition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  };

  return {
    /** The flag a rollout starts from, as stored (strongly consistent). */
    async flagItem(flagName: string): Promise<FlagItem | undefined> {
      const result = await doc.send(
        new GetCommand({ TableName: flagsTableName, Key: { flagName }, ConsistentRead: true }),
      );
      return result.Item as FlagItem | undefined;
    },

    async get(flagName: string): Promise<RolloutItem | undefined> {
      const result = await doc.send(new GetCommand({ TableName: tableName, Key: key(flagName), ConsistentRead: true }));
      return result.Item as RolloutItem | undefined;
    },

    /**
     * The transaction item that records a started rollout (replacing an ended one), on condition
     * that none is running: two starts cannot both win.
     */
    startItem(item: RolloutItem): TransactItem {
      return {
        Put: {
          TableName: tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(id) OR #status <> :running",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":running": "running" },
        },
      };
    },

    /** The transaction item that moves a running rollout from step `from` to `to.step`. */
    stepItem(
      flagName: string,
      startedAt: string,
      from: number,
      to: { step: number; percent: number; version: number; at: string; nextStepAt?: string; last: boolean },
    ): TransactItem {
      // `percent` (and more) are DynamoDB reserved words: every name goes through a placeholder.
      const sets = ["#step = :step", "#percent = :percent", "#version = :version"];
      const values: Record<string, unknown> = {
        ":running": "running",
        ":startedAt": startedAt,
        ":from": from,
        ":step": to.step,
        ":percent": to.percent,
        ":version": to.version,
      };
      if (to.nextStepAt !== undefined) {
        sets.push("nextStepAt = :nextStepAt");
        values[":nextStepAt"] = to.nextStepAt;
      }
      if (to.last) {
        sets.push("#status = :completed", "completedAt = :at");
        values[":completed"] = "completed";
        values[":at"] = to.at;
      }
      return {
        Update: {
          TableName: tableName,
          Key: key(flagName),
          UpdateExpression: `SET ${sets.join(", ")}${to.nextStepAt === undefined ? " REMOVE nextStepAt" : ""}`,
          ConditionExpression: `${runningCondition.ConditionExpression} AND #step = :from`,
          ExpressionAttributeNames: {
            "#status": "status",
            "#step": "step",
            "#percent": "percent",
            "#version": "version",
          },
          ExpressionAttributeValues: values,
        },
      };
    },

    /** The transaction item that records an abort that wrote the flag back (version `end.version`). */
    abortItem(flagName: string, startedAt: string, end: RolloutEnd): TransactItem {
      return { Update: endUpdate(flagName, startedAt, end) };
    },

    /**
     * Ends a running rollout without writing the flag (it was deleted): false when it was no
     * longer running.
     */
    async end(flagName: string, startedAt: string, end: RolloutEnd): Promise<boolean> {
      try {
        await doc.send(new UpdateCommand(endUpdate(flagName, startedAt, end)));
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    /**
     * Running rollouts: all of them (`alarm` absent; the local runtime re-arms their steps when it
     * starts), or those a guard alarm guards. A Scan of the schedules table, filtered: it holds a
     * flag's schedules of the last 90 days and one rollout per flag.
     */
    async running(alarm?: string): Promise<RolloutItem[]> {
      const items: RolloutItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: tableName,
            FilterExpression: `id = :rollout AND #status = :running${alarm === undefined ? "" : " AND contains(guardAlarms, :alarm)"}`,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":rollout": ROLLOUT_ID,
              ":running": "running",
              ...(alarm === undefined ? {} : { ":alarm": alarm }),
            },
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...((page.Items ?? []) as RolloutItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items;
    },
  };
}
