import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { flagExists, flagNotFound, versionConflict } from "../errors";
import { encodeCursor } from "./cursor";
import { type Flag, type FlagItem, itemToFlag } from "./model";
import type { CreateFlagInput, UpdateFlagInput } from "./validation";

export interface FlagStoreDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Injected so tests can control timestamps. */
  now?: () => Date;
}

export interface FlagPage {
  flags: Flag[];
  nextCursor?: string;
}

export type FlagStore = ReturnType<typeof makeFlagStore>;

/**
 * Flag persistence. Every write is a single conditional DynamoDB request, so concurrent callers
 * cannot both win a create, and a read's `lastAccessed` touch cannot overwrite an update.
 */
export function makeFlagStore({ doc, tableName, now = () => new Date() }: FlagStoreDeps) {
  const isConditionFailure = (error: unknown): error is ConditionalCheckFailedException =>
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === "ConditionalCheckFailedException");

  return {
    async create(input: CreateFlagInput, actor: string | null): Promise<Flag> {
      const at = now().toISOString();
      const item: FlagItem = {
        flagName: input.flagName,
        valueJson: JSON.stringify(input.value),
        version: 1,
        createdAt: at,
        updatedAt: at,
        createdBy: actor,
        updatedBy: actor,
      };
      if (input.description !== undefined) item.description = input.description;
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: "attribute_not_exists(flagName)",
          }),
        );
      } catch (error) {
        if (isConditionFailure(error)) throw flagExists(input.flagName);
        throw error;
      }
      return itemToFlag(item);
    },

    /**
     * Reads a flag and stamps `lastAccessed` (and who read it, for the audit trail), in one
     * UpdateItem that touches nothing else.
     */
    async read(flagName: string, actor: string | null = null): Promise<Flag> {
      try {
        const result = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName },
            UpdateExpression: "SET lastAccessed = :now, lastAccessedBy = :actor",
            ConditionExpression: "attribute_exists(flagName)",
            ExpressionAttributeValues: { ":now": now().toISOString(), ":actor": actor },
            ReturnValues: "ALL_NEW",
          }),
        );
        return itemToFlag(result.Attributes as FlagItem);
      } catch (error) {
        if (isConditionFailure(error)) throw flagNotFound(flagName);
        throw error;
      }
    },

    /**
     * Replaces a flag's value (and description, when given) and bumps its version. With
     * `expectedVersion`, applies only if the stored version still matches.
     */
    async update(
      flagName: string,
      input: UpdateFlagInput,
      actor: string | null,
      expectedVersion?: number,
    ): Promise<Flag> {
      const sets = ["valueJson = :value", "version = version + :one", "updatedAt = :now", "updatedBy = :actor"];
      const values: Record<string, unknown> = {
        ":value": JSON.stringify(input.value),
        ":one": 1,
        ":now": now().toISOString(),
        ":actor": actor,
      };
      if (input.description !== undefined) {
        sets.push("description = :description");
        values[":description"] = input.description;
      }
      let condition = "attribute_exists(flagName)";
      if (expectedVersion !== undefined) {
        condition += " AND version = :expected";
        values[":expected"] = expectedVersion;
      }
      try {
        const result = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName },
            UpdateExpression: `SET ${sets.join(", ")}`,
            ConditionExpression: condition,
            ExpressionAttributeValues: values,
            ReturnValues: "ALL_NEW",
            // Tells a missing flag (404) from a stale version (412) without a second read.
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return itemToFlag(result.Attributes as FlagItem);
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        if (error.Item === undefined || expectedVersion === undefined) throw flagNotFound(flagName);
        throw versionConflict(flagName, expectedVersion, Number(unmarshall(error.Item).version));
      }
    },

    /**
     * Deletes a flag. DynamoDB's REMOVE stream record carries only the old image, so the deleter
     * and the time are stamped first (`deletedBy`, `deletedAt`, version unchanged: no push, no audit line of its own); the
     * delete then applies only to the item this caller stamped.
     */
    async remove(flagName: string, actor: string | null = null): Promise<void> {
      const at = now().getTime();
      const deletionId = `${at}-${Math.random().toString(36).slice(2)}`;
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { flagName },
            // deletedAt (ms): the stream's own time is rounded (to the minute on DynamoDB Local).
            UpdateExpression: "SET deletedBy = :actor, deletedAt = :at, deletionId = :deletionId",
            ConditionExpression: "attribute_exists(flagName)",
            ExpressionAttributeValues: { ":actor": actor, ":at": at, ":deletionId": deletionId },
          }),
        );
        await doc.send(
          new DeleteCommand({
            TableName: tableName,
            Key: { flagName },
            ConditionExpression: "deletionId = :deletionId",
            ExpressionAttributeValues: { ":deletionId": deletionId },
          }),
        );
      } catch (error) {
        // Missing, or a concurrent delete won the race: either way, not ours to delete.
        if (isConditionFailure(error)) throw flagNotFound(flagName);
        throw error;
      }
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
