import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type EvaluatorItem, evaluatorPosition } from "../evaluators/model";
import { FLAG_SET_KEY } from "../evaluators/table";
import { type Flag, type FlagItem, itemToFlag } from "../flags/model";

/** Server → client messages (CONTRACT.md, "WebSocket"). */
export type ServerMessage =
  | { type: "snapshot"; part: number; parts: number; flags: Flag[]; evaluators?: Record<string, unknown> }
  | { type: "evaluators.updated"; evaluators: Record<string, unknown> }
  | { type: "flag.created"; flag: Flag }
  | { type: "flag.updated"; flag: Flag }
  | { type: "flag.deleted"; flagName: string; version: number }
  | { type: "error"; error: { code: string; message: string } }
  /** The answer to a client's `{"action": "ping"}` keep-alive (not in the contract). */
  | { type: "pong" };

const image = (raw: unknown): FlagItem | undefined =>
  raw === undefined ? undefined : (unmarshall(raw as Record<string, AttributeValue>) as FlagItem);

/**
 * The message a flags-table stream record becomes, or undefined for one that changes nothing a
 * client sees: a read only stamps `lastAccessed`, leaving the version as it was.
 */
export function recordToMessage(record: DynamoDBRecord): ServerMessage | undefined {
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  switch (record.eventName) {
    case "INSERT":
      return after === undefined ? undefined : { type: "flag.created", flag: itemToFlag(after) };
    case "MODIFY":
      if (after === undefined || (before !== undefined && Number(before.version) === Number(after.version))) {
        return undefined;
      }
      return { type: "flag.updated", flag: itemToFlag(after) };
    case "REMOVE":
      return before === undefined
        ? undefined
        : { type: "flag.deleted", flagName: before.flagName, version: Number(before.version) };
    default:
      return undefined;
  }
}

/** Whether a stream record comes from the evaluators table (keyed on `name`; flags on `flagName`). */
export function isEvaluatorsRecord(record: DynamoDBRecord): boolean {
  return record.dynamodb?.Keys?.name !== undefined;
}

/**
 * Whether an evaluators-table stream record changes what `evaluators.updated` carries: an
 * evaluator created or deleted, or its expression replaced. The flag-set version item and a flag
 * write that only moves an evaluator's reference count change nothing a client sees.
 */
export function changesEvaluators(record: DynamoDBRecord): boolean {
  if (record.dynamodb?.Keys?.name?.S === FLAG_SET_KEY) return false;
  const expression = (raw: unknown) => (raw as Record<string, AttributeValue> | undefined)?.expressionJson?.S;
  const before = expression(record.dynamodb?.OldImage);
  const after = expression(record.dynamodb?.NewImage);
  switch (record.eventName) {
    case "INSERT":
      return after !== undefined;
    case "REMOVE":
      return before !== undefined;
    case "MODIFY":
      return before !== after;
    default:
      return false;
  }
}

/**
 * Whether a read of the evaluators (`positions`: each one's history position, see
 * `evaluatorPosition`) is older than a batch of evaluators-table stream records announces. For
 * each evaluator in the batch, its newest record says where it got to: created or replaced at a
 * position, which the read must have reached if it shows the evaluator; or deleted, after which
 * the read must not show it at that position or an older one (a name created again is at a later
 * one). Positions only grow for a name, so a lower one is an older state. A read that does not
 * show an evaluator the batch created or replaced is taken as newer: it was deleted since (absence
 * carries no position; a strongly consistent read cannot miss a committed write).
 */
export function readsOlderThan(
  records: readonly DynamoDBRecord[],
  positions: Readonly<Record<string, number>>,
): boolean {
  const newest = new Map<string, DynamoDBRecord>();
  for (const record of records) {
    const name = record.dynamodb?.Keys?.name?.S;
    if (name !== undefined && name !== FLAG_SET_KEY) newest.set(name, record);
  }
  const item = (raw: unknown) =>
    raw === undefined ? undefined : (unmarshall(raw as Record<string, AttributeValue>) as EvaluatorItem);
  for (const [name, record] of newest) {
    const read = positions[name];
    if (read === undefined) continue;
    const image = item(record.eventName === "REMOVE" ? record.dynamodb?.OldImage : record.dynamodb?.NewImage);
    if (image === undefined) continue;
    // After a delete, the position deleted is already too old; otherwise it is the least.
    if (record.eventName === "REMOVE" ? read <= evaluatorPosition(image) : read < evaluatorPosition(image)) return true;
  }
  return false;
}

/** One value a pattern lists for a field: a literal, `{"anything-but": [...]}` or `{"exists": bool}`. */
function matchesOption(actual: unknown, option: unknown): boolean {
  if (option !== null && typeof option === "object") {
    const { "anything-but": excluded, exists } = option as { "anything-but"?: unknown[]; exists?: boolean };
    if (Array.isArray(excluded)) return actual !== undefined && !excluded.includes(actual);
    if (typeof exists === "boolean") return exists === (actual !== undefined);
    return false;
  }
  return option === actual;
}

/**
 * Whether an event-source filter pattern (the subset this service uses: exact values, lists of
 * them, `{"anything-but": [...]}` and `{"exists": bool}` on a leaf) admits a record. A field the
 * record lacks is absent all the way down, so only `{"exists": false}` can match below it.
 */
export function matchesFilter(record: unknown, pattern: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (record as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(expected)) return expected.some((option: unknown) => matchesOption(actual, option));
    if (expected !== null && typeof expected === "object") {
      return matchesFilter(actual, expected as Record<string, unknown>);
    }
    return actual === expected;
  });
}

/** Whether a record passes filter criteria of several patterns: it must match one of them. */
export function matchesAnyFilter(record: unknown, patterns: ReadonlyArray<Readonly<Record<string, unknown>>>): boolean {
  return patterns.some((pattern) => matchesFilter(record, pattern));
}
