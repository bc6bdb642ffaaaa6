import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { STAMP_ATTRIBUTE, STAMP_RESOLUTION_MS } from "../flags/stamp";

/** Resolution of `lastEvaluated`: a flag is stamped at most once per this period per container. */
export const LAST_EVALUATED_RESOLUTION_MS = STAMP_RESOLUTION_MS;
/** Stamps in flight at once when a bulk evaluation makes many flags due together. */
const STAMP_CONCURRENCY = 10;

export interface EvaluationRecorder {
  /** Stamps `lastEvaluated` on the flags that are due; never rejects (failures go to onFailure). */
  record(flagNames: readonly string[]): Promise<void>;
}

/**
 * Keeps `lastEvaluated` at about a minute's resolution without a write per evaluation: each
 * container remembers when it last stamped each flag and stamps again only after a minute; the
 * conditional write also skips flags another container stamped within that minute. A read-only
 * stamp changes no version, so it pushes no WebSocket message and writes no audit line.
 */
export function makeEvaluationRecorder({
  doc,
  tableName,
  clock = Date.now,
  onFailure,
}: {
  doc: DynamoDBDocumentClient;
  tableName: string;
  clock?: () => number;
  /** Told about a stamp that failed for a reason other than being unnecessary. */
  onFailure: (flagName: string, error: unknown) => void;
}): EvaluationRecorder & { writes: () => number } {
  const stampedAt = new Map<string, number>();
  let writes = 0;

  const stamp = async (flagName: string, now: number) => {
    writes++;
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { flagName },
          // A stamp (../flags/stamp.ts): no stream consumer is invoked for it.
          UpdateExpression: `SET lastEvaluated = :now, ${STAMP_ATTRIBUTE} = :stamp`,
          ConditionExpression:
            "attribute_exists(flagName) AND (attribute_not_exists(lastEvaluated) OR lastEvaluated < :cutoff)",
          ExpressionAttributeValues: {
            ":now": new Date(now).toISOString(),
            ":cutoff": new Date(now - LAST_EVALUATED_RESOLUTION_MS).toISOString(),
            ":stamp": "lastEvaluated",
          },
        }),
      );
    } catch (error) {
      const skipped =
        error instanceof ConditionalCheckFailedException ||
        (error instanceof Error && error.name === "ConditionalCheckFailedException");
      if (skipped) return;
      // Bookkeeping must not fail an evaluation; forget the stamp so the next one retries it.
      stampedAt.delete(flagName);
      onFailure(flagName, error);
    }
  };

  return {
    async record(flagNames) {
      const now = clock();
      const due = flagNames.filter((name) => now - (stampedAt.get(name) ?? -Infinity) >= LAST_EVALUATED_RESOLUTION_MS);
      for (const name of due) stampedAt.set(name, now);
      for (let i = 0; i < due.length; i += STAMP_CONCURRENCY) {
        await Promise.all(due.slice(i, i + STAMP_CONCURRENCY).map((name) => stamp(name, now)));
      }
    },
    writes: () => writes,
  };
}
