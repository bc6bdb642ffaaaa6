import { strict as assert } from "node:assert";
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import type { WebSocketEvent, WebSocketResult } from "../../handlers/realtime/handlers";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { localDynamoClient } from "../../local/dynamodb";
import { startStreamPoller } from "../../local/streams";
import { ensureConnectionsTable, ensureFlagsTable } from "../../local/tables";
import { loadHandler, materialize } from "../support/artifacts";
import { startFakeLambda } from "../support/fakeLambda";
import { startFakeManagementApi } from "../support/fakeManagementApi";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { runProgram, single } from "../support/pulumiMocks";
import { captureStreamRecords } from "../support/streamRecords";

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

  it("the fan-out artifact hands segments to the worker artifact (Invoke); 1,500 connections reached once each", async function () {
    this.timeout(180_000);
    const resources = await runProgram();
    const fanoutArtifact = await materialize(single(resources, "aws:lambda/function:Function", "-dev-fanout"));
    const workerArtifact = await materialize(single(resources, "aws:lambda/function:Function", "-dev-fanout-worker"));
    const dynamo = await sharedDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    const doc = DynamoDBDocumentClient.from(client);
    const flagsTable = uniqueTableName("art-flags");
    const connectionsTable = uniqueTableName("art-conns");
    await ensureFlagsTable(client, flagsTable);
    await ensureConnectionsTable(client, connectionsTable);
    const ids = Array.from({ length: 1500 }, (_, i) => (i % 100 === 3 ? `gone-${i}` : `live-${i}`));
    for (let i = 0; i < ids.length; i += 25) {
      const rows = ids.slice(i, i + 25).map((connectionId) => ({ PutRequest: { Item: { connectionId } } }));
      await doc.send(new BatchWriteCommand({ RequestItems: { [connectionsTable]: rows } }));
    }
    const management = await startFakeManagementApi({ gone: new Set(ids.filter((id) => id.startsWith("gone-"))) });
    const base = {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      CONNECTIONS_TABLE_NAME: connectionsTable,
      WEBSOCKET_ENDPOINT: management.endpoint,
    };
    const worker = loadHandler<unknown, unknown>(workerArtifact, base);
    // Lambda: runs the worker artifact and answers with its result.
    const lambda = await startFakeLambda({ run: async (_name, payload) => worker(payload) });
    try {
      const fanout = loadHandler<DynamoDBStreamEvent, DynamoDBBatchResponse>(fanoutArtifact, {
        ...base,
        AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
        FLAGS_TABLE_NAME: flagsTable,
        EVALUATORS_TABLE_NAME: evaluatorsTableFor(flagsTable),
        FANOUT_WORKER_FUNCTION: fanoutArtifact.programEnv.FANOUT_WORKER_FUNCTION,
        FANOUT_POSTS_PER_INVOCATION: "500",
        FANOUT_MAX_WORKERS: fanoutArtifact.programEnv.FANOUT_MAX_WORKERS,
      });
      const [created] = await captureStreamRecords(1, (store) =>
        store.create({ flagName: "art-scaled", value: 7 }, "admin").then(() => undefined),
      );
      assert.deepEqual(await fanout({ Records: [created] }), { batchItemFailures: [] });
      await lambda.settled();
      assert.equal(lambda.accepted.length, 3, "1,500 connections at 500 posts per invocation: three workers");
      assert.ok(lambda.accepted.every((call) => call.invocationType === "RequestResponse"));
      assert.ok(
        lambda.accepted.every((call) => call.functionName === fanoutArtifact.programEnv.FANOUT_WORKER_FUNCTION),
      );
      const live = ids.filter((id) => id.startsWith("live-"));
      const notOnce = live.filter((id) => management.received.get(id)?.length !== 1);
      assert.deepEqual(notOnce, [], "every live connection got the message exactly once");
      assert.equal(JSON.parse(management.received.get(live[0])?.[0] ?? "{}").flag.flagName, "art-scaled");
      const rows = await doc.send(new ScanCommand({ TableName: connectionsTable, Select: "COUNT" }));
      assert.equal(rows.Count, live.length, "the 15 gone rows are deleted");
    } finally {
      await lambda.stop();
      await management.stop();
      client.destroy();
    }
  });
});
