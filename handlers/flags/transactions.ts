import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { FLAG_SET_KEY } from "../evaluators/table";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** Why a transaction was cancelled: a code per item, and the old item where one was asked for. */
export interface Cancellation {
  codes: string[];
  /** Per item, its old image (marshalled) when it set ReturnValuesOnConditionCheckFailure. */
  items: Array<Record<string, AttributeValue> | undefined>;
}

/** Whether a single write's condition failed (the SDK's class, or its name across bundle copies). */
export const isConditionFailure = (error: unknown): error is ConditionalCheckFailedException =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof Error && error.name === "ConditionalCheckFailedException");

/** Why each item of a cancelled transaction failed, in request order (`None` when it did not). */
export function cancellationCodes(error: unknown): string[] | undefined {
  const isCancel =
    error instanceof TransactionCanceledException ||
    (error instanceof Error && error.name === "TransactionCanceledException");
  if (!isCancel) return undefined;
  const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code ?? "None");
}

/** A cancelled transaction that lost a race with another one on the same item: worth retrying. */
export const isTransactionConflict = (codes: string[] | undefined): boolean =>
  codes !== undefined && codes.includes("TransactionConflict");

/** Waits a little, more for the first few attempts, with jitter, before retrying. */
export const backoff = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10 * Math.min(attempt + 1, 5)));

/**
 * Attempts at a write that keeps losing to concurrent ones before it gives up with a 500. Every
 * change bumps the one flag-set version item, so concurrent writes to different flags conflict
 * too; each round lets one of them through, so this bounds the concurrency a burst of writes can
 * have before any of them fails (flag writes are human- or pipeline-paced, not per request).
 */
export const TRANSACTION_ATTEMPTS = 50;

/**
 * The transaction item that bumps the flag-set version. Every change to a flag or an evaluator
 * carries it, so one strongly consistent GetItem tells an OFREP cache whether anything changed.
 */
export function bumpFlagSet(evaluatorsTable: string, at: string): TransactItem {
  return {
    Update: {
      TableName: evaluatorsTable,
      Key: { name: FLAG_SET_KEY },
      UpdateExpression: "ADD setVersion :one SET updatedAt = :at",
      ExpressionAttributeValues: { ":one": 1, ":at": at },
    },
  };
}

/**
 * The transaction item that adds `delta` to an evaluator's reference count, on condition that it
 * exists: a flag cannot come to reference an evaluator that a concurrent delete removes, and a
 * delete (which requires a count of 0) cannot remove one a concurrent flag write now references.
 */
export function countReference(evaluatorsTable: string, name: string, delta: 1 | -1): TransactItem {
  return {
    Update: {
      TableName: evaluatorsTable,
      Key: { name },
      UpdateExpression: "ADD refCount :delta",
      ConditionExpression: "attribute_exists(expressionJson)",
      ExpressionAttributeValues: { ":delta": delta },
    },
  };
}

/**
 * Runs a transaction, retrying while it conflicts with concurrent ones. Resolves undefined when it
 * committed, or the cancellation when a condition failed; throws anything else.
 */
export async function runTransaction(
  doc: DynamoDBDocumentClient,
  items: () => TransactItem[],
): Promise<Cancellation | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items() }));
      return undefined;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes === undefined) throw error;
      if (isTransactionConflict(codes) && attempt + 1 < TRANSACTION_ATTEMPTS) {
        await backoff(attempt);
        continue;
      }
      if (isTransactionConflict(codes)) throw error;
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      return { codes, items: reasons.map((reason) => reason.Item) };
    }
  }
}
