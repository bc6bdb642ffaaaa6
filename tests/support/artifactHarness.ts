import { schedulesTableFor } from "../../handlers/schedules/model";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { toTokenRecords } from "../../handlers/auth/tokens";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { makeFlagStore } from "../../handlers/flags/store";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureConnectionsTable, ensureFlagsTable } from "../../local/tables";
import { loadHandler, type MaterializedArtifact } from "./artifacts";
import { startFakeLambda } from "./fakeLambda";
import { startFakeManagementApi } from "./fakeManagementApi";
import { startFakeSsm } from "./fakeSsm";
import { sharedDynamo, uniqueTableName } from "./hooks";
import { createTokensTable } from "./tokenTable";
import { ofType, type RecordedResource } from "./pulumiMocks";
import { TEST_TOKENS } from "./tokens";

export interface HarnessOptions {
  /** Flags created before any function runs. */
  flags?: string[];
  /** Rows of the connections table. */
  connections?: string[];
  /** Connection ids the Management API stand-in answers 410 Gone for. */
  gone?: string[];
}

/**
 * Local stand-ins for everything the program's functions call — tables in the shared DynamoDB
 * Local (the test tokens' table too), SSM holding the program's parameters (deletion allowed), a Management
 * API — and a loader that gives each artifact the program's environment with local values in place.
 */
export async function startArtifactHarness(resources: RecordedResource[], options: HarnessOptions = {}) {
  const dynamo = await sharedDynamo();
  const client = localDynamoClient(dynamo.endpoint);
  const doc = DynamoDBDocumentClient.from(client);
  const flagsTable = uniqueTableName("harness-flags");
  const connectionsTable = uniqueTableName("harness-conns");
  const tokensTable = uniqueTableName("harness-tokens");
  await ensureFlagsTable(client, flagsTable);
  await createTokensTable(client, tokensTable, toTokenRecords(TEST_TOKENS));
  await ensureConnectionsTable(client, connectionsTable);
  const store = makeFlagStore({ doc, tableName: flagsTable, evaluatorsTableName: evaluatorsTableFor(flagsTable) });
  for (const flagName of options.flags ?? []) await store.create({ flagName, value: 1 }, "admin");
  const addConnections = async (ids: readonly string[]) => {
    for (const connectionId of ids) {
      await doc.send(new PutCommand({ TableName: connectionsTable, Item: { connectionId, tokenId: "reader" } }));
    }
  };
  await addConnections(options.connections ?? []);
  const parameter = (suffix: string) =>
    ofType(resources, "aws:ssm/parameter:Parameter").find((p) => p.name.endsWith(suffix))?.inputs.name as string;
  const ssm = await startFakeSsm(new Map([[parameter("-allow-flag-deletion"), "true"]]));
  const management = await startFakeManagementApi({ gone: new Set(options.gone ?? []) });
  // Answers the fan-out's invocations of its worker (the wiring test drives the worker itself).
  const lambda = await startFakeLambda();
  const local: Record<string, string> = {
    FLAGS_TABLE_NAME: flagsTable,
    EVALUATORS_TABLE_NAME: evaluatorsTableFor(flagsTable),
    HISTORY_TABLE_NAME: historyTableFor(flagsTable),
    SCHEDULES_TABLE_NAME: schedulesTableFor(flagsTable),
    CONNECTIONS_TABLE_NAME: connectionsTable,
    TOKENS_TABLE_NAME: tokensTable,
    WEBSOCKET_ENDPOINT: management.endpoint,
  };
  const base = {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
  };
  return {
    lambda,
    /** Adds rows to the connections table. */
    addConnections,
    /** Adds a pending schedule of `flagName`, an hour ahead (as the schedules function would). */
    async addPendingSchedule(flagName: string, id: string) {
      const at = new Date(Date.now() + 3_600_000).toISOString();
      await doc.send(
        new PutCommand({
          TableName: schedulesTableFor(flagsTable),
          Item: { flagName, id, at, changeJson: '{"value":1}', status: "pending", createdBy: "admin", createdAt: at },
        }),
      );
    },
    /** Loads the artifact with the program's environment, local values in place, then `overrides`. */
    load(artifact: MaterializedArtifact, overrides: Record<string, string> = {}) {
      const env = Object.fromEntries(
        Object.entries(artifact.programEnv).map(([key, value]) => [key, local[key] ?? value]),
      );
      return loadHandler<unknown, unknown>(artifact, { ...base, ...env, ...overrides });
    },
    async stop() {
      client.destroy();
      await ssm.stop();
      await management.stop();
      await lambda.stop();
    },
  };
}
