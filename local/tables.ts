import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import { FLAGS_TABLE } from "../handlers/flags/table";

/** Creates the flags table from the definition the Pulumi component uses, unless it exists. */
export async function ensureFlagsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: FLAGS_TABLE.hashKey, KeyType: "HASH" }],
        AttributeDefinitions: FLAGS_TABLE.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: FLAGS_TABLE.streamViewType },
      }),
    );
  } catch (error) {
    // A persisted data dir already has it.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
