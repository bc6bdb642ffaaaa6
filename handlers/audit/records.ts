import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type Flag, type FlagItem, itemToFlag } from "../flags/model";

/** One line of the audit trail (CONTRACT.md, "Audit records"). */
export interface AuditLine {
  eventId: string;
  eventName: "created" | "updated" | "deleted" | "read";
  flagName: string;
  at: string;
  actor: string | null;
  version: number;
  before: Flag | null;
  after: Flag | null;
}

const image = (raw: unknown): FlagItem | undefined =>
  raw === undefined ? undefined : (unmarshall(raw as Record<string, AttributeValue>) as FlagItem);

/** When the stream saw the change; DynamoDB rounds this, so it is the fallback only. */
function streamTime(record: DynamoDBRecord): string {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return new Date(typeof seconds === "number" ? seconds * 1000 : Date.now()).toISOString();
}

/**
 * The audit line a flags-table stream record becomes, or undefined for the one kind of change
 * that is not an event of its own: the `deletedBy` stamp just before a delete.
 */
export function recordToAuditLine(record: DynamoDBRecord): AuditLine | undefined {
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  const eventId = record.eventID;
  if (eventId === undefined) throw new Error("stream record has no eventID");
  const line = (
    eventName: AuditLine["eventName"],
    item: FlagItem,
    at: string | undefined,
    actor: string | null | undefined,
  ): AuditLine => ({
    eventId,
    eventName,
    flagName: item.flagName,
    at: at ?? streamTime(record),
    actor: actor ?? null,
    version: Number(item.version),
    before: before === undefined ? null : itemToFlag(before),
    after: after === undefined ? null : itemToFlag(after),
  });

  switch (record.eventName) {
    case "INSERT":
      if (after === undefined) break;
      return line("created", after, after.createdAt, after.createdBy);
    case "REMOVE":
      if (before === undefined) break;
      // Stamped by the delete itself, to the millisecond; older items fall back to the stream's time.
      return line(
        "deleted",
        before,
        before.deletedAt === undefined ? undefined : new Date(Number(before.deletedAt)).toISOString(),
        before.deletedBy,
      );
    case "MODIFY": {
      if (before === undefined || after === undefined) break;
      if (Number(after.version) !== Number(before.version)) {
        return line("updated", after, after.updatedAt, after.updatedBy);
      }
      if (after.lastAccessed !== before.lastAccessed) {
        return line("read", after, after.lastAccessed, after.lastAccessedBy);
      }
      return undefined;
    }
  }
  throw new Error(`stream record ${eventId} (${record.eventName}) lacks the image it needs`);
}
