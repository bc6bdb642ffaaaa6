import { BatchWriteItemCommand, CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { TOKENS_TABLE, tokenItem } from "../../handlers/auth/tokenTable";
import type { TokenRecord } from "../../handlers/auth/tokens";

/**
 * A tokens table in DynamoDB Local as FlagApi defines it (key, `byId` index), holding `records`
 * as Pulumi's TableItems and `aws dynamodb put-item` write them (tokenItem).
 */
export async function createTokensTable(
  client: DynamoDBClient,
  tableName: string,
  records: readonly TokenRecord[],
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: TOKENS_TABLE.attributes.map(({ name, type }) => ({
        AttributeName: name,
        AttributeType: type,
      })),
      KeySchema: [{ AttributeName: TOKENS_TABLE.hashKey, KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        {
          IndexName: TOKENS_TABLE.byIdIndex,
          KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
          Projection: { ProjectionType: "ALL" },
        },
      ],
    }),
  );
  await putTokens(client, tableName, records);
}

/** Writes token items, 25 per BatchWriteItem. */
export async function putTokens(client: DynamoDBClient, tableName: string, records: readonly TokenRecord[]) {
  for (let start = 0; start < records.length; start += 25) {
    const requests = records.slice(start, start + 25).map((record) => ({
      PutRequest: { Item: tokenItem(record) as never },
    }));
    let unprocessed: Record<string, typeof requests> | undefined = { [tableName]: requests };
    while (unprocessed !== undefined && Object.keys(unprocessed).length > 0) {
      const result = await client.send(new BatchWriteItemCommand({ RequestItems: unprocessed }));
      unprocessed = result.UnprocessedItems as typeof unprocessed;
    }
  }
}
