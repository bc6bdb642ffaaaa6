import { strict as assert } from "node:assert";
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from "aws-lambda";
import { makeWebSocketAuthorizer } from "../../handlers/auth/authorizers";
import { recordLookup, toTokenRecords } from "../../handlers/auth/tokens";
import { loadHandler, materialize, type MaterializedArtifact } from "../support/artifacts";
import { recordedInvocations } from "../support/awsCalls";
import { captureOutput } from "../support/capture";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { proxyEvent } from "../support/proxyEvents";
import { runProgram, single } from "../support/pulumiMocks";
import { createTokensTable, putTokens } from "../support/tokenTable";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";
import { DeleteItemCommand } from "@aws-sdk/client-dynamodb";
import { hashToken } from "../../handlers/auth/tokens";
import { localDynamoClient } from "../../local/dynamodb";

const METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/flags/x";

function authorizerEvent(headers: Record<string, string>): APIGatewayRequestAuthorizerEvent {
  return { type: "REQUEST", methodArn: METHOD_ARN, headers } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** The test tokens in a tokens table in DynamoDB Local, and the artifact loaded against it as Lambda would run it. */
async function loadWithTokens(artifact: MaterializedArtifact) {
  const dynamo = await sharedDynamo();
  const client = localDynamoClient(dynamo.endpoint);
  const tableName = uniqueTableName("authorizer-tokens");
  await createTokensTable(client, tableName, toTokenRecords(TEST_TOKENS));
  const env = {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    TOKENS_TABLE_NAME: tableName,
  };
  const load = () => loadHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>(artifact, env);
  return { client, tableName, load, authorize: load() };
}

/** The DynamoDB operations (x-amz-target) the invocations in `run` sent. */
async function dynamoCalls(run: () => Promise<unknown>): Promise<string[]> {
  const before = recordedInvocations().length;
  await run();
  return recordedInvocations()
    .slice(before)
    .flatMap((invocation) => invocation.calls)
    .map((call) => (call.headers["x-amz-target"] ?? "").replace("DynamoDB_20120810.", ""));
}

describe("REST authorizer artifact (serialized __index.js, tokens from the tokens table)", () => {
  let artifact: MaterializedArtifact;
  let readArtifact: MaterializedArtifact;
  let tokens: Awaited<ReturnType<typeof loadWithTokens>>;
  let authorize: (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;
  const savedEnv = { ...process.env };

  before(async () => {
    const resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
    artifact = await materialize(single(resources, "aws:lambda/function:Function", "-dev-authorizer"));
    readArtifact = await materialize(single(resources, "aws:lambda/function:Function", "-read"));
    tokens = await loadWithTokens(artifact);
    authorize = tokens.authorize;
  });

  after(async () => {
    process.env = savedEnv;
    tokens?.client.destroy();
  });

  it("allows a known token on the whole stage and passes its id and scopes on", async () => {
    const result = await authorize(authorizerEvent({ Authorization: `Bearer ${READ_TOKEN}` }));
    assert.equal(result.principalId, "reader");
    assert.deepEqual(result.context, { tokenId: "reader", scopes: "read" });
    assert.deepEqual(result.policyDocument.Statement, [
      {
        Action: "execute-api:Invoke",
        Effect: "Allow",
        Resource: "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/*",
      },
    ]);
  });

  it("denies unknown, malformed and missing tokens with a Deny policy (the API's 401), without failing", async () => {
    for (const headers of <Array<Record<string, string>>>[
      { Authorization: "Bearer not-a-known-token-0123456789" },
      { Authorization: `Basic ${ADMIN_TOKEN}` },
      { authorization: "Bearer" },
      {},
    ]) {
      const result = await authorize(authorizerEvent(headers));
      assert.deepEqual(result.policyDocument.Statement, [
        {
          Action: "execute-api:Invoke",
          Effect: "Deny",
          Resource: "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/*",
        },
      ]);
      assert.equal(result.context, undefined, "no principal reaches a handler");
    }
  });

  it("reads the header case-insensitively", async () => {
    const result = await authorize(authorizerEvent({ authorization: `Bearer ${ADMIN_TOKEN}` }));
    assert.deepEqual(result.context, { tokenId: "admin", scopes: "read write" });
  });

  it("looks a token up with one GetItem by its hash, then answers from its cache for the cache period", async () => {
    const fresh = tokens.load();
    const headers = { Authorization: `Bearer ${READ_TOKEN}` };
    assert.deepEqual(await dynamoCalls(() => fresh(authorizerEvent(headers))), ["GetItem"]);
    assert.deepEqual(await dynamoCalls(() => fresh(authorizerEvent(headers))), []);
    // A miss is remembered too: a scanner repeating a token costs one read per cache period.
    const unknown = { Authorization: "Bearer not-a-known-token-0123456789" };
    assert.deepEqual(await dynamoCalls(() => fresh(authorizerEvent(unknown))), ["GetItem"]);
    assert.deepEqual(await dynamoCalls(() => fresh(authorizerEvent(unknown))), []);
  });

  it("admits a token put into the table and refuses one deleted from it, without a redeploy", async () => {
    const token = "added-by-put-item-0123456789abcdef";
    const [record] = toTokenRecords([{ id: "added", token, scopes: ["read"] }]);
    const event = authorizerEvent({ Authorization: `Bearer ${token}` });
    assert.equal((await tokens.load()(event)).policyDocument.Statement[0].Effect, "Deny");
    await putTokens(tokens.client, tokens.tableName, [record]);
    const admitted = await tokens.load()(event);
    assert.deepEqual(admitted.context, { tokenId: "added", scopes: "read" });
    await tokens.client.send(
      new DeleteItemCommand({ TableName: tokens.tableName, Key: { sha256: { S: hashToken(token) } } }),
    );
    // A new instance (and any instance after TOKENS_MAX_AGE_SECONDS) no longer knows it.
    assert.equal((await tokens.load()(event)).policyDocument.Statement[0].Effect, "Deny");
  });

  it("never writes a token to the logs, even at DEBUG", async () => {
    const handler = loadHandler<APIGatewayProxyEvent, APIGatewayProxyResult>(readArtifact, {
      POWERTOOLS_LOG_LEVEL: "DEBUG",
      FLAGS_TABLE_NAME: "no-such-table",
      EVALUATORS_TABLE_NAME: "no-such-table-evaluators",
      SCHEDULES_TABLE_NAME: "no-such-table-schedules",
      AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:9",
    });
    const { output } = await captureOutput(async () => {
      const headers = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      await handler(proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "%ZZ" }, headers }));
      await handler(proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "x" }, headers }));
    });
    process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
    assert.match(output, /"level":"WARN"/, "the 400 was logged");
    assert.match(output, /"level":"ERROR"/, "the unreachable table was logged");
    assert.ok(!output.includes(ADMIN_TOKEN));
  });
});

describe("WebSocket $connect authorizer", () => {
  const authorize = makeWebSocketAuthorizer({ tokens: recordLookup(toTokenRecords(TEST_TOKENS)) });
  const connect = (query: Record<string, string> | null) =>
    authorize({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:ws123/dev/$connect",
      queryStringParameters: query,
    } as unknown as APIGatewayRequestAuthorizerEvent);

  it("admits a read token from ?token=", async () => {
    const result = await connect({ token: READ_TOKEN });
    assert.deepEqual(result.context, { tokenId: "reader", scopes: "read" });
  });

  it("refuses a missing or unknown token", async () => {
    await assert.rejects(connect(null), /Unauthorized/);
    await assert.rejects(connect({ token: "nope-nope-nope-nope-nope-nope" }), /Unauthorized/);
  });

  it("denies a client key (no read scope) with a Deny policy (API Gateway's 403), passing no principal on", async () => {
    const result = await connect({ token: CLIENT_TOKEN });
    assert.deepEqual(result.policyDocument.Statement, [
      {
        Action: "execute-api:Invoke",
        Effect: "Deny",
        Resource: "arn:aws:execute-api:eu-west-1:123456789012:ws123/dev/*",
      },
    ]);
    assert.equal(result.context, undefined);
    const admitted = await connect({ token: ADMIN_TOKEN });
    assert.equal(admitted.policyDocument.Statement[0].Effect, "Allow");
  });
});

describe("WebSocket $connect authorizer artifact (serialized __index.js, tokens from the tokens table)", () => {
  let tokens: Awaited<ReturnType<typeof loadWithTokens>>;
  let authorize: (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;
  const savedEnv = { ...process.env };
  const connect = (token: string) =>
    authorize({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:ws123/dev/$connect",
      queryStringParameters: { token },
    } as unknown as APIGatewayRequestAuthorizerEvent);

  before(async () => {
    const resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
    const artifact = await materialize(single(resources, "aws:lambda/function:Function", "-ws-authorizer"));
    tokens = await loadWithTokens(artifact);
    authorize = tokens.authorize;
  });
  after(async () => {
    process.env = savedEnv;
    tokens?.client.destroy();
  });

  it("denies a client key (403) without failing or logging an ERROR, allows read, throws Unauthorized (401) for an unknown token", async () => {
    const { output, result } = await captureOutput(() => connect(CLIENT_TOKEN));
    assert.equal(result.policyDocument.Statement[0].Effect, "Deny");
    assert.equal(result.context, undefined);
    assert.doesNotMatch(output, /"level":"ERROR"/);
    const reader = await connect(READ_TOKEN);
    assert.equal(reader.policyDocument.Statement[0].Effect, "Allow");
    assert.deepEqual(reader.context, { tokenId: "reader", scopes: "read" });
    await assert.rejects(connect("not-a-known-token-0123456789"), /Unauthorized/);
  });
});
