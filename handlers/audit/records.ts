import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type EvaluatorItem, type EvaluatorVersion, versionOfEvaluator } from "../evaluators/model";
import { FLAG_SET_KEY } from "../evaluators/table";
import { type Flag, type FlagItem, itemToFlag } from "../flags/model";

/** One line of the audit trail about a flag (CONTRACT.md, "Audit records"). */
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

/** One line of the audit trail about a shared evaluator: no `flagName`, the evaluator as images. */
export interface EvaluatorAuditLine {
  eventId: string;
  eventName: "created" | "updated" | "deleted";
  evaluatorName: string;
  at: string;
  actor: string | null;
  version: number;
  before: EvaluatorVersion | null;
  after: EvaluatorVersion | null;
}

const image = <Item>(raw: unknown): Item | undefined =>
  raw === undefined ? undefined : (unmarshall(raw as Record<string, AttributeValue>) as Item);

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
  const before = image<FlagItem>(record.dynamodb?.OldImage);
  const after = image<FlagItem>(record.dynamodb?.NewImage);
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

/**
 * The audit line an evaluators-table stream record becomes, or undefined for a record that is no
 * change of an evaluator: the flag-set version item, a flag's write moving a reference count, the
 * stamp just before a delete (none of them changes the version).
 */
export function evaluatorRecordToAuditLine(record: DynamoDBRecord): EvaluatorAuditLine | undefined {
  if (record.dynamodb?.Keys?.name?.S === FLAG_SET_KEY) return undefined;
  const before = image<EvaluatorItem>(record.dynamodb?.OldImage);
  const after = image<EvaluatorItem>(record.dynamodb?.NewImage);
  const eventId = record.eventID;
  if (eventId === undefined) throw new Error("stream record has no eventID");
  const line = (
    eventName: EvaluatorAuditLine["eventName"],
    item: EvaluatorItem,
    at: string | undefined,
    actor: string | null | undefined,
  ): EvaluatorAuditLine => ({
    eventId,
    eventName,
    evaluatorName: item.name,
    at: at ?? streamTime(record),
    actor: actor ?? null,
    version: Number(item.version),
    before: before === undefined ? null : versionOfEvaluator(before),
    after: after === undefined ? null : versionOfEvaluator(after),
  });

  switch (record.eventName) {
    case "INSERT":
      if (after === undefined) break;
      return line("created", after, after.createdAt, after.createdBy);
    case "REMOVE":
      if (before === undefined) break;
      return line(
        "deleted",
        before,
        before.deletedAt === undefined ? undefined : new Date(Number(before.deletedAt)).toISOString(),
        before.deletedBy,
      );
    case "MODIFY":
      if (before === undefined || after === undefined) break;
      return Number(after.version) === Number(before.version)
        ? undefined
        : line("updated", after, after.updatedAt, after.updatedBy);
  }
  throw new Error(`stream record ${eventId} (${record.eventName}) lacks the image it needs`);
}

/**
 * The audit line of a record from either stream the trail reads: the evaluators table's items
 * are keyed on `name`, the flags table's on `flagName`.
 */
export function streamRecordToAuditLine(record: DynamoDBRecord): AuditLine | EvaluatorAuditLine | undefined {
  return record.dynamodb?.Keys?.name !== undefined ? evaluatorRecordToAuditLine(record) : recordToAuditLine(record);
}
