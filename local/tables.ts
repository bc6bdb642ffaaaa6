import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { EVALUATORS_TABLE, evaluatorsTableFor } from "../handlers/evaluators/table";
import { HISTORY_TABLE, historyTableFor } from "../handlers/flags/history";
import { FLAGS_TABLE } from "../handlers/flags/table";
import { CONNECTIONS_TABLE } from "../handlers/realtime/table";
import { SCHEDULES_TABLE, schedulesTableFor } from "../handlers/schedules/model";

/** The shape the table definitions share (`handlers/*\/table.ts`, `handlers/flags/history.ts`). */
interface TableDefinition {
  hashKey: string;
  rangeKey?: string;
  attributes: readonly { name: string; type: "S" | "N" | "B" }[];
  streamViewType?: "NEW_IMAGE" | "NEW_AND_OLD_IMAGES";
  ttlAttribute?: string;
}

/** Creates a table from the definition its Pulumi component uses, unless it exists already. */
async function ensureTable(client: DynamoDBClient, tableName: string, table: TableDefinition): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: table.hashKey, KeyType: "HASH" },
          ...(table.rangeKey === undefined ? [] : [{ AttributeName: table.rangeKey, KeyType: "RANGE" as const }]),
        ],
        AttributeDefinitions: table.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        ...(table.streamViewType === undefined
          ? {}
          : { StreamSpecification: { StreamEnabled: true, StreamViewType: table.streamViewType } }),
      }),
    );
  } catch (error) {
    // A persisted data dir already has it.
    if (error instanceof ResourceInUseException) return;
    throw error;
  }
  if (table.ttlAttribute !== undefined) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
      }),
    );
  }
}

/**
 * The flags table, its evaluators table (`<tableName>-evaluators`), its history table
 * (`<tableName>-history`) and its schedules table (`<tableName>-schedules`), as `FlagApi` defines them.
 */
export async function ensureFlagsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await ensureTable(client, tableName, FLAGS_TABLE);
  await ensureTable(client, evaluatorsTableFor(tableName), EVALUATORS_TABLE);
  await ensureTable(client, historyTableFor(tableName), HISTORY_TABLE);
  await ensureTable(client, schedulesTableFor(tableName), SCHEDULES_TABLE);
}

/** A history table under any name (the flags table's is `<tableName>-history`), as `FlagApi` defines it. */
export const ensureHistoryTable = (client: DynamoDBClient, tableName: string): Promise<void> =>
  ensureTable(client, tableName, HISTORY_TABLE);

/** The WebSocket connections table, as `Realtime` defines it. */
export const ensureConnectionsTable = (client: DynamoDBClient, tableName: string): Promise<void> =>
  ensureTable(client, tableName, CONNECTIONS_TABLE);

/** A schedules table under any name (the flags table's is `<tableName>-schedules`), as `Schedules` defines it. */
export const ensureSchedulesTable = (client: DynamoDBClient, tableName: string): Promise<void> =>
  ensureTable(client, tableName, SCHEDULES_TABLE);
