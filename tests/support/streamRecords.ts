import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { type FlagStore, makeFlagStore } from "../../handlers/flags/store";
import { localDynamoClient } from "../../local/dynamodb";
import { startStreamPoller } from "../../local/streams";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "./hooks";

/**
 * Real stream records: runs `changes` through the real flag store on a fresh table in the shared
 * DynamoDB Local, and returns the first `count` records its stream yields.
 */
export async function captureStreamRecords(
  count: number,
  changes: (store: FlagStore) => Promise<void>,
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
      tableName,
      handler: async (event) => {
        records.push(...event.Records);
      },
    });
    await changes(makeFlagStore({ doc: DynamoDBDocumentClient.from(client), tableName }));
    const deadline = Date.now() + 10_000;
    while (records.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await poller.stop();
  } finally {
    client.destroy();
  }
  if (records.length < count) throw new Error(`expected ${count} stream records, got ${records.length}`);
  return records.slice(0, count);
}
