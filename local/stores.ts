/** The local service's clients and stores over DynamoDB, on tables made from the Pulumi components' definitions. */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type EvaluatorStore, makeEvaluatorStore } from "../handlers/evaluators/store";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { historyTableFor } from "../handlers/flags/history";
import { type FlagStore, makeFlagStore } from "../handlers/flags/store";
import { type ConnectionStore, makeConnectionStore } from "../handlers/realtime/connections";
import { makeRolloutStore, type RolloutStore } from "../handlers/rollouts/store";
import { schedulesTableFor } from "../handlers/schedules/model";
import { makeScheduleStore, type ScheduleStore } from "../handlers/schedules/store";
import type { Dependency } from "./dependency";
import { localDynamoClient } from "./dynamodb";
import { ensureConnectionsTable, ensureFlagsTable } from "./tables";
import type { Teardown } from "./teardown";

export interface Stores {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  flags: FlagStore;
  evaluators: EvaluatorStore;
  connections: ConnectionStore;
  schedules: ScheduleStore;
  /** Rollouts, kept in the schedules table (handlers/rollouts/model.ts). */
  rollouts: RolloutStore;
  tableName: string;
  connectionsTableName: string;
}

/** What this step reads of the service's options (`ServiceOptions` documents each). */
export interface StoresOptions {
  tableName?: string;
  connectionsTableName?: string;
}

/** Step: clients and tables (created from the Pulumi components' definitions; again after an in-memory restart). */
export async function openStores(options: StoresOptions, dependency: Dependency, teardown: Teardown): Promise<Stores> {
  const tableName = options.tableName ?? "flags";
  const connectionsTableName = options.connectionsTableName ?? "connections";
  const client = localDynamoClient(dependency.endpoint);
  teardown.add(() => client.destroy());
  const ensureTables = async () => {
    await ensureFlagsTable(client, tableName);
    await ensureConnectionsTable(client, connectionsTableName);
  };
  await ensureTables();
  dependency.onRestart(ensureTables);
  const doc = DynamoDBDocumentClient.from(client);
  return {
    client,
    doc,
    flags: makeFlagStore({ doc, tableName }),
    evaluators: makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    }),
    connections: makeConnectionStore({ doc, tableName: connectionsTableName }),
    schedules: makeScheduleStore({ doc, tableName: schedulesTableFor(tableName), flagsTableName: tableName }),
    rollouts: makeRolloutStore({ doc, tableName: schedulesTableFor(tableName), flagsTableName: tableName }),
    tableName,
    connectionsTableName,
  };
}
