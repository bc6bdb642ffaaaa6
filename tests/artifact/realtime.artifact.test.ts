import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import type { WebSocketEvent, WebSocketResult } from "../../handlers/realtime/handlers";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { localDynamoClient } from "../../local/dynamodb";
import { startStreamPoller } from "../../local/streams";
import { ensureConnectionsTable, ensureFlagsTable } from "../../local/tables";
import { loadHandler, materialize } from "../support/artifacts";
import { startFakeManagementApi } from "../support/fakeManagementApi";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { runProgram, single } from "../support/pulumiMocks";

describe("Realtime Lambda artifacts (serialized __index.js against DynamoDB Local)", () => {
  const savedEnv = { ...process.env };
  after(() => {
    process.env = savedEnv;
  });

  it("connect stores the connection; fan-out turns a real stream record into a message for it", async () => {
    const resources = await runProgram();
    const connectArtifact = await materialize(single(resources, "aws:lambda/function:Function", "-dev-ws-connect"));
    const fanoutArtifact = await materialize(single(resources, "aws:lambda/function:Function", "-dev-fanout"));
    const dynamo = await sharedDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    const flagsTable = uniqueTableName("art-flags");
    const connectionsTable = uniqueTableName("art-conns");
    await ensureFlagsTable(client, flagsTable);
    await ensureConnectionsTable(client, connectionsTable);
    const management = await startFakeManagementApi();
    const env = {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      FLAGS_TABLE_NAME: flagsTable,
      EVALUATORS_TABLE_NAME: evaluatorsTableFor(flagsTable),
      CONNECTIONS_TABLE_NAME: connectionsTable,
      WEBSOCKET_ENDPOINT: management.endpoint,
    };
    const captured: DynamoDBStreamEvent["Records"] = [];
    const poller = await startStreamPoller({
      dynamo: client,
      endpoint: dynamo.endpoint,
      tableName: flagsTable,
      handler: async (event) => {
        captured.push(...event.Records);
      },
    });
    const doc = DynamoDBDocumentClient.from(client);
    try {
      const onConnect = loadHandler<WebSocketEvent, WebSocketResult>(connectArtifact, env);
      const connected = await onConnect({
        requestContext: {
          connectionId: "conn-1",
          routeKey: "$connect",
          authorizer: { tokenId: "reader", scopes: "read" },
        },
      });
      assert.equal(connected.statusCode, 200);
      const row = await doc.send(new GetCommand({ TableName: connectionsTable, Key: { connectionId: "conn-1" } }));
      assert.equal(row.Item?.tokenId, "reader");

      const { makeFlagStore } = await import("../../handlers/flags/store");
      await makeFlagStore({ doc, tableName: flagsTable }).create({ flagName: "art-live", value: 42 }, "admin");
      const deadline = Date.now() + 5000;
      while (captured.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

      const fanout = loadHandler<DynamoDBStreamEvent, DynamoDBBatchResponse>(fanoutArtifact, env);
      const result = await fanout({ Records: captured });
      assert.deepEqual(result, { batchItemFailures: [] });
      const [message] = (management.received.get("conn-1") ?? []).map((body) => JSON.parse(body));
      assert.equal(message.type, "flag.created");
      assert.equal(message.flag.flagName, "art-live");
      assert.equal(message.flag.value, 42);
    } finally {
      await poller.stop();
      await management.stop();
      client.destroy();
    }
  });
});
