import { schedulesTableFor } from "../../handlers/schedules/model";
import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable, ensureHistoryTable } from "../../local/tables";
import { loadHandler, type MaterializedArtifact, materialize } from "../support/artifacts";
import { startFakeSsm } from "../support/fakeSsm";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { proxyEvent } from "../support/proxyEvents";
import { runProgram, single } from "../support/pulumiMocks";

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
const FUNCTION = "aws:lambda/function:Function";
const PARAMETER = "/feature-flags/dev/allow-flag-deletion";

describe("History and settings in the FlagApi Lambda artifacts (serialized __index.js against DynamoDB Local)", () => {
  const artifacts: Record<"read" | "write" | "delete", MaterializedArtifact> = {} as never;
  const parameters = new Map([[PARAMETER, "true"]]);
  let ssm: Awaited<ReturnType<typeof startFakeSsm>>;
  let env: Record<string, string>;
  let doc: DynamoDBDocumentClient;
  let historyTable: string;
  const savedEnv = { ...process.env };

  before(async () => {
    const resources = await runProgram();
    for (const group of ["read", "write", "delete"] as const) {
      artifacts[group] = await materialize(single(resources, FUNCTION, `-${group}`));
    }
    const dynamo = await sharedDynamo();
    const tableName = uniqueTableName("artifact-history");
    const client = localDynamoClient(dynamo.endpoint);
    await ensureFlagsTable(client, tableName);
    // A name unlike the local default: the functions must take it from HISTORY_TABLE_NAME, as on AWS.
    historyTable = uniqueTableName("deployed-history");
    await ensureHistoryTable(client, historyTable);
    doc = DynamoDBDocumentClient.from(client);
    ssm = await startFakeSsm(parameters);
    env = {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      FLAGS_TABLE_NAME: tableName,
      EVALUATORS_TABLE_NAME: evaluatorsTableFor(tableName),
      HISTORY_TABLE_NAME: historyTable,
      SCHEDULES_TABLE_NAME: schedulesTableFor(tableName),
      // The delete function cancels a deleted flag's schedules (none here) in this group; the write
      // function arms rollouts' steps there (none here).
      SCHEDULE_GROUP_NAME: "artifact-schedules",
      SCHEDULE_TARGET_ARN: "arn:aws:lambda:local:000000000000:function:artifact-schedule-runner",
      SCHEDULE_ROLE_ARN: "arn:aws:iam::000000000000:role/artifact-scheduler-role",
      SCHEDULE_DEAD_LETTER_ARN: "arn:aws:sqs:local:000000000000:artifact-schedule-dlq",
      ALLOW_FLAG_DELETION_PARAMETER: PARAMETER,
    };
  });

  after(async () => {
    process.env = savedEnv;
    doc?.destroy();
    await ssm?.stop();
  });

  const handler = (group: keyof typeof artifacts): Handler => loadHandler(artifacts[group], env);
  const json = (result: APIGatewayProxyResult) => JSON.parse(result.body);
  const history = (flagName: string, query?: Record<string, string>) =>
    handler("read")(proxyEvent({ method: "GET", resource: "/flags/{flagName}/history", params: { flagName }, query }));

  it("records a create, an update and a delete in the table HISTORY_TABLE_NAME names, readable after the delete", async () => {
    const write = handler("write");
    assert.equal(
      (await write(proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "art-h", value: 1 } })))
        .statusCode,
      201,
    );
    const put = proxyEvent({
      method: "PUT",
      resource: "/flags/{flagName}",
      params: { flagName: "art-h" },
      headers: { "If-Match": '"1"' },
      body: { value: 2 },
      authorizer: { tokenId: "ci-bot", scopes: "read write" },
    });
    assert.equal((await write(put)).statusCode, 200);
    const deleted = await handler("delete")(
      proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "art-h" } }),
    );
    assert.equal(deleted.statusCode, 204);

    const result = await history("art-h");

    assert.equal(result.statusCode, 200);
    assert.deepEqual(
      json(result).versions.map((v: { version: number; actor: string; flag: { value: unknown } | null }) => [
        v.version,
        v.actor,
        v.flag === null ? null : v.flag.value,
      ]),
      [
        [2, "admin", null],
        [2, "ci-bot", 2],
        [1, "admin", 1],
      ],
    );
    const stored = await doc.send(
      new QueryCommand({
        TableName: historyTable,
        KeyConditionExpression: "flagName = :n",
        ExpressionAttributeValues: { ":n": "art-h" },
      }),
    );
    assert.equal(stored.Items?.length, 3);
  });

  it("refuses a bad limit with 400 and answers 404 for a flag that never existed", async () => {
    const bad = await history("art-h", { limit: "0" });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).error.code, "VALIDATION_FAILED");
    const missing = await history("never-was");
    assert.equal(missing.statusCode, 404);
    assert.equal(json(missing).error.code, "FLAG_NOT_FOUND");
  });

  it("serves GET /settings from the parameter DELETE reads, through the same cache", async () => {
    parameters.set(PARAMETER, "false");
    const remove = handler("delete");
    const before = ssm.requests();

    const settings = await remove(proxyEvent({ method: "GET", resource: "/settings" }));
    const refused = await remove(
      proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "art-h" } }),
    );

    assert.equal(settings.statusCode, 200);
    assert.deepEqual(json(settings), { allowFlagDeletion: false });
    assert.equal(json(refused).error.code, "DELETION_DISABLED", "DELETE decided as the settings said");
    assert.equal(ssm.requests() - before, 1, "one parameter read serves both");
    parameters.set(PARAMETER, "true");
  });

  it("answers GET /settings to a read-only token, and 401 when no authorizer vouched for one", async () => {
    const remove = handler("delete");
    const reader = { tokenId: "reader", scopes: "read" };
    assert.equal(
      (await remove(proxyEvent({ method: "GET", resource: "/settings", authorizer: reader }))).statusCode,
      200,
    );
    const anonymous = await remove(proxyEvent({ method: "GET", resource: "/settings", authorizer: null }));
    assert.equal(anonymous.statusCode, 401);
  });
});
