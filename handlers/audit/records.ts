import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type EvaluatorItem, type EvaluatorVersion, versionOfEvaluator } from "../evaluators/model";
import { FLAG_SET_KEY } from "../evaluators/table";
import { type Flag, type FlagItem, itemToFlag } from "../flags/model";
import type { ChangeVia } from "../schedules/model";

/**
 * One line of the audit trail about a change of a flag (CONTRACT.md, "Audit records"). Reads are
 * `ReadAuditLine`s (./reads.ts), made from the access logs: a read writes nothing to the table.
 */
export interface AuditLine {
  eventId: string;
  eventName: "created" | "updated" | "deleted";
  flagName: string;
  at: string;
  actor: string | null;
  version: number;
  before: Flag | null;
  after: Flag | null;
  /** What made the change when a person's request did not: `{"schedule": id}` (CONTRACT.md). */
  via?: ChangeVia;
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

/** What a flag's item and an evaluator's item share, as far as their audit lines go. */
interface AuditedItem {
  version: number;
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  updatedBy: string | null;
  deletedAt?: number;
  deletedBy?: string | null;
}

type Change = "created" | "updated" | "deleted";

/**
 * The change a stream record of a versioned item is (its images, who and when), for one of the
 * trail's two kinds of line to carry; undefined for a record that changes nothing a user made (the
 * version did not move: a stamp, which the Pipe's filter normally keeps away, or a reference count).
 */
function changeOf<Item extends AuditedItem>(
  record: DynamoDBRecord,
):
  | {
      eventId: string;
      name: Change;
      item: Item;
      at: string;
      actor: string | null;
      before?: Item;
      after?: Item;
    }
  | undefined {
  const before = image<Item>(record.dynamodb?.OldImage);
  const after = image<Item>(record.dynamodb?.NewImage);
  const eventId = record.eventID;
  if (eventId === undefined) throw new Error("stream record has no eventID");
  const change = (name: Change, item: Item, at: string | undefined, actor: string | null | undefined) => ({
    eventId,
    name,
    item,
    at: at ?? streamTime(record),
    actor: actor ?? null,
    before,
    after,
  });
  switch (record.eventName) {
    case "INSERT":
      if (after === undefined) break;
      return change("created", after, after.createdAt, after.createdBy);
    case "REMOVE":
      if (before === undefined) break;
      // Stamped by the delete itself, to the millisecond; older items fall back to the stream's time.
      return change(
        "deleted",
        before,
        before.deletedAt === undefined ? undefined : new Date(Number(before.deletedAt)).toISOString(),
        before.deletedBy,
      );
    case "MODIFY":
      if (before === undefined || after === undefined) break;
      if (Number(after.version) !== Number(before.version)) {
        return change("updated", after, after.updatedAt, after.updatedBy);
      }
      return undefined;
  }
  throw new Error(`stream record ${eventId} (${record.eventName}) lacks the image it needs`);
}

/**
 * The audit line a flags-table stream record becomes, or undefined for a record that is no event
 * of its own: a stamp (`lastAccessed`, `lastEvaluated`, the `deletedBy` just before a delete).
 */
export function recordToAuditLine(record: DynamoDBRecord): AuditLine | undefined {
  const change = changeOf<FlagItem>(record);
  if (change === undefined) return undefined;
  return {
    eventId: change.eventId,
    eventName: change.name,
    flagName: change.item.flagName,
    at: change.at,
    actor: change.actor,
    version: Number(change.item.version),
    before: change.before === undefined ? null : itemToFlag(change.before),
    after: change.after === undefined ? null : itemToFlag(change.after),
    // Only the version that the schedule wrote: a later read or delete of it was no schedule's.
    ...(change.name === "updated" && change.item.via !== undefined ? { via: change.item.via } : {}),
  };
}

/**
 * The audit line an evaluators-table stream record becomes, or undefined for a record that is no
 * change of an evaluator: the flag-set version item, a flag's write moving a reference count, the
 * stamp just before a delete (none of them changes the version).
 */
export function evaluatorRecordToAuditLine(record: DynamoDBRecord): EvaluatorAuditLine | undefined {
  if (record.dynamodb?.Keys?.name?.S === FLAG_SET_KEY) return undefined;
  const change = changeOf<EvaluatorItem>(record);
  if (change === undefined) return undefined;
  return {
    eventId: change.eventId,
    eventName: change.name,
    evaluatorName: change.item.name,
    at: change.at,
    actor: change.actor,
    version: Number(change.item.version),
    before: change.before === undefined ? null : versionOfEvaluator(change.before),
    after: change.after === undefined ? null : versionOfEvaluator(change.after),
  };
}

/**
 * The audit line of a record from either stream the trail reads: the evaluators table's items
 * are keyed on `name`, the flags table's on `flagName`.
 */
export function streamRecordToAuditLine(record: DynamoDBRecord): AuditLine | EvaluatorAuditLine | undefined {
  return record.dynamodb?.Keys?.name !== undefined ? evaluatorRecordToAuditLine(record) : recordToAuditLine(record);
}
