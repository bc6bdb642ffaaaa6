import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { FLAGS_TABLE } from "../handlers/flags/table";
import { CONNECTIONS_TABLE } from "../handlers/realtime/table";

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

/** Creates the WebSocket connections table from the Realtime component's definition. */
export async function ensureConnectionsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: CONNECTIONS_TABLE.hashKey, KeyType: "HASH" }],
        AttributeDefinitions: CONNECTIONS_TABLE.attributes.map((a) => ({
          AttributeName: a.name,
          AttributeType: a.type,
        })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: CONNECTIONS_TABLE.streamViewType },
      }),
    );
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: CONNECTIONS_TABLE.ttlAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
