import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { serviceError } from "../errors";
import { ROLLOUT_ID } from "../rollouts/model";
import { DONE_RETENTION_DAYS, type ScheduleItem } from "./model";
import { isConditionFailure } from "../flags/transactions";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

export interface ScheduleStoreDeps {
  doc: DynamoDBDocumentClient;
  /** The schedules table. */
  tableName: string;
  /** The flags table: whether a flag exists (a GetItem of its key only; no `lastAccessed` stamp). */
  flagsTableName: string;
  now?: () => Date;
}

export type ScheduleStore = ReturnType<typeof makeScheduleStore>;

/**
 * Schedule persistence. Every status change is conditional on `status = pending`, so a schedule
 * leaves `pending` exactly once: applying (in the flag write's own transaction, see
 * `appliedItem`), failing and cancelling race on that one condition and one of them wins.
 */
export function makeScheduleStore({ doc, tableName, flagsTableName, now = () => new Date() }: ScheduleStoreDeps) {
  const expiresAt = () => Math.floor(now().getTime() / 1000) + DONE_RETENTION_DAYS * 24 * 60 * 60;
  const pendingCondition = {
    ConditionExpression: "#status = :pending",
    ExpressionAttributeNames: { "#status": "status" },
  };

  const query = async (flagName: string): Promise<ScheduleItem[]> => {
    const items: ScheduleItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "flagName = :flagName",
          ExpressionAttributeValues: { ":flagName": flagName },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as ScheduleItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    // The flag's rollout shares the table (handlers/rollouts/model.ts): it is no schedule.
    return items.filter((item) => item.id !== ROLLOUT_ID);
  };

  return {
    /** Whether the flag exists now (strongly consistent). */
    async flagExists(flagName: string): Promise<boolean> {
      const result = await doc.send(
        new GetCommand({
          TableName: flagsTableName,
          Key: { flagName },
          ConsistentRead: true,
          ProjectionExpression: "flagName",
        }),
      );
      return result.Item !== undefined;
    },

    async put(item: ScheduleItem): Promise<void> {
      await doc.send(
        new PutCommand({ TableName: tableName, Item: item, ConditionExpression: "attribute_not_exists(id)" }),
      );
    },

    /** Takes back a schedule whose clock could not be armed (it was never announced). */
    async remove(flagName: string, id: string): Promise<void> {
      await doc.send(
        new DeleteCommand({
          TableName: tableName,
          Key: { flagName, id },
          ...pendingCondition,
          ExpressionAttributeValues: { ":pending": "pending" },
        }),
      );
    },

    async get(flagName: string, id: string): Promise<ScheduleItem | undefined> {
      const result = await doc.send(
        new GetCommand({ TableName: tableName, Key: { flagName, id }, ConsistentRead: true }),
      );
      return result.Item as ScheduleItem | undefined;
    },

    /** Every schedule of a flag, done ones included. */
    list: query,

    async pendingOf(flagName: string): Promise<ScheduleItem[]> {
      return (await query(flagName)).filter((item) => item.status === "pending");
    },

    /**
     * Every pending schedule of every flag: what the local runtime arms its timers with when it
     * starts. A Scan, which only the local runtime makes (on AWS each one has its own schedule).
     */
    async allPending(): Promise<ScheduleItem[]> {
      const items: ScheduleItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: tableName,
            FilterExpression: "#status = :pending",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":pending": "pending" },
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...((page.Items ?? []) as ScheduleItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items;
    },

    /**
     * Cancels a pending schedule. 404 when there is no such schedule, 409 SCHEDULE_DONE when it
     * already left `pending` (applied, failed, cancelled): a cancel racing the apply has one winner.
     */
    async cancel(flagName: string, id: string, actor: string | null): Promise<ScheduleItem> {
      try {
        const result = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName, id },
            UpdateExpression: "SET #status = :cancelled, cancelledAt = :at, cancelledBy = :actor, expiresAt = :expires",
            ...pendingCondition,
            ExpressionAttributeValues: {
              ":pending": "pending",
              ":cancelled": "cancelled",
              ":at": now().toISOString(),
              ":actor": actor,
              ":expires": expiresAt(),
            },
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return result.Attributes as ScheduleItem;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const old = error.Item === undefined ? undefined : (unmarshall(error.Item) as ScheduleItem);
        if (old === undefined) {
          throw serviceError("SCHEDULE_NOT_FOUND", `flag '${flagName}' has no schedule '${id}'`);
        }
        throw serviceError(
          "SCHEDULE_DONE",
          `schedule '${id}' is ${old.status}; only a pending schedule can be cancelled`,
        );
      }
    },

    /** Records why a pending schedule could not be applied; false when it was no longer pending. */
    async markFailed(flagName: string, id: string, failure: { code: string; message: string }): Promise<boolean> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName, id },
            UpdateExpression:
              "SET #status = :failed, errorCode = :code, errorMessage = :message, failedAt = :at, expiresAt = :expires",
            ...pendingCondition,
            ExpressionAttributeValues: {
              ":pending": "pending",
              ":failed": "failed",
              ":code": failure.code,
              ":message": failure.message,
              ":at": now().toISOString(),
              ":expires": expiresAt(),
            },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    /**
     * The transaction item that records a schedule as applied, on condition that it is still
     * pending: it goes into the flag write's own transaction, so the change and its record commit
     * together, once, however often the runner is invoked.
     */
    appliedItem(flagName: string, id: string, applied: { version: number; at: string }): TransactItem {
      return {
        Update: {
          TableName: tableName,
          Key: { flagName, id },
          UpdateExpression: "SET #status = :applied, appliedAt = :at, version = :version, expiresAt = :expires",
          ...pendingCondition,
          ExpressionAttributeValues: {
            ":pending": "pending",
            ":applied": "applied",
            ":at": applied.at,
            ":version": applied.version,
            ":expires": expiresAt(),
          },
        },
      };
    },
  };
}
