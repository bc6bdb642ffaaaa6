/**
 * Thousands of flags written straight to a local service's table (as stored flags, 25 to a
 * BatchWrite, several batches at once): 10,000 POSTs would take minutes, this takes seconds.
 * The flags are plain ones, `prefix-00000` … : every third a boolean, the rest small objects.
 */
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { localDynamoClient } from "../../local/dynamodb";

export const seededName = (prefix: string, index: number) => `${prefix}-${String(index).padStart(5, "0")}`;

export async function seedFlags(
  target: { dynamoEndpoint: string; tableName: string },
  count: number,
  prefix = "seeded",
): Promise<void> {
  const doc = DynamoDBDocumentClient.from(localDynamoClient(target.dynamoEndpoint));
  const at = new Date().toISOString();
  const item = (index: number) => ({
    flagName: seededName(prefix, index),
    valueJson: JSON.stringify(index % 3 === 0 ? index % 2 === 0 : { tier: index % 7, label: `variant ${index}` }),
    description: `Seeded flag number ${index}`,
    version: 1,
    createdAt: at,
    updatedAt: at,
    createdBy: "seed",
    updatedBy: "seed",
  });
  const batches: number[][] = [];
  for (let start = 0; start < count; start += 25)
    batches.push(Array.from({ length: Math.min(25, count - start) }, (_, j) => start + j));
  const write = async (indexes: number[]) => {
    let requests = indexes.map((index) => ({ PutRequest: { Item: item(index) } }));
    // DynamoDB may hand some back unprocessed: they are written again until none are left.
    while (requests.length > 0) {
      const answer = await doc.send(new BatchWriteCommand({ RequestItems: { [target.tableName]: requests } }));
      requests = (answer.UnprocessedItems?.[target.tableName] ?? []) as typeof requests;
    }
  };
  try {
    const lanes = 8;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let b = lane; b < batches.length; b += lanes) await write(batches[b]);
      }),
    );
  } finally {
    doc.destroy();
  }
}
