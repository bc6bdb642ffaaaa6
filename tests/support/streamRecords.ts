import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type EvaluatorStore, makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { type FlagStore, makeFlagStore } from "../../handlers/flags/store";
import { localDynamoClient } from "../../local/dynamodb";
import { startStreamPoller } from "../../local/streams";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "./hooks";

/**
 * Real stream records: runs `changes` through the real flag and evaluator stores on a fresh table
 * in the shared DynamoDB Local, and returns the first `count` records the flags table's stream (or
 * with `stream: "evaluators"`, the evaluators table's) yields.
 */
export async function captureStreamRecords(
  count: number,
  changes: (store: FlagStore, evaluators: EvaluatorStore) => Promise<void>,
  stream: "flags" | "evaluators" = "flags",
): Promise<DynamoDBRecord[]> {
  const dynamo = await sharedDynamo();
  const client = localDynamoClient(dynamo.endpoint);
  const tableName = uniqueTableName("stream");
  const records: DynamoDBRecord[] = [];
  try {
    await ensureFlagsTable(client, tableName);
    const poller = await startStreamPoller({
      dynamo: client,
      endpoint: dynamo.endpoint,
      tableName: stream === "flags" ? tableName : evaluatorsTableFor(tableName),
      handler: async (event) => {
        records.push(...event.Records);
      },
    });
    const doc = DynamoDBDocumentClient.from(client);
    await changes(
      makeFlagStore({ doc, tableName }),
      makeEvaluatorStore({
        doc,
        tableName: evaluatorsTableFor(tableName),
        historyTableName: historyTableFor(tableName),
      }),
    );
    const deadline = Date.now() + 10_000;
    while (records.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await poller.stop();
  } finally {
    client.destroy();
  }
  if (records.length < count) throw new Error(`expected ${count} stream records, got ${records.length}`);
  return records.slice(0, count);
}
