import { strict as assert } from "node:assert";
import { hashToken } from "../../handlers/auth/tokens";
import { ROUTES } from "../../handlers/routes";
import { materialize } from "../support/artifacts";
import { dataGrants } from "../support/policies";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const FUNCTION = "aws:lambda/function:Function";
const TOKENS = [
  { id: "ci-bot", token: "ci-bot-secret-AAAAAAAAAAAAAAAAAAAAAAAA", scopes: ["write"] },
  { id: "dashboard", token: "dashboard-secret-BBBBBBBBBBBBBBBBBBBBBBBB", scopes: ["read"] },
  { id: "web-page", token: "web-page-client-key-CCCCCCCCCCCCCCCCCCCC", scopes: ["evaluate"] },
];

/** Unwraps a value Pulumi marked secret (as the mocks record it). */
const reveal = (value: unknown): string => {
  const wrapped = value as { value?: string } | string;
  return typeof wrapped === "string" ? wrapped : (wrapped.value as string);
};

describe("authentication wiring (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  const spec = () => JSON.parse(single(resources, "aws:apigateway/restApi:RestApi").inputs.body);

  before(async () => {
    resources = await runProgram({ apiTokens: JSON.stringify(TOKENS) });
  });

  it("guards every route that needs a scope with the REQUEST authorizer, and leaves /health open", () => {
    for (const route of ROUTES) {
      const operation = spec().paths[route.resource][route.method.toLowerCase()];
      assert.deepEqual(operation.security, route.scope === null ? [] : [{ "bearer-token": [] }], route.resource);
    }
    assert.deepEqual(spec().paths["/health"].get.security, []);
  });

  it("caches authorizer answers briefly, keyed on the Authorization header", () => {
    const scheme = spec().components.securitySchemes["bearer-token"]["x-amazon-apigateway-authorizer"];
    const authorizer = single(resources, FUNCTION, "-dev-authorizer");
    assert.equal(scheme.type, "request");
    assert.equal(scheme.identitySource, "method.request.header.Authorization");
    assert.equal(scheme.authorizerResultTtlInSeconds, 30);
    assert.ok(scheme.authorizerUri.includes(`function:${authorizer.name}/invocations`));
  });

  it("answers a missing token and the authorizer's Deny (unknown token) with the contract's 401", () => {
    const responses = spec()["x-amazon-apigateway-gateway-responses"];
    for (const type of ["UNAUTHORIZED", "ACCESS_DENIED"]) {
      assert.equal(responses[type].statusCode, "401", type);
      assert.equal(JSON.parse(responses[type].responseTemplates["application/json"]).error.code, "UNAUTHENTICATED");
    }
  });

  it("lets API Gateway invoke the authorizer as an authorizer of this API only", () => {
    const permission = single(resources, "aws:lambda/permission:Permission", "-dev-invoke-authorizer");
    const api = single(resources, "aws:apigateway/restApi:RestApi");
    assert.equal(
      permission.inputs.sourceArn,
      `arn:aws:execute-api:eu-west-1:123456789012:${api.name}-id/authorizers/*`,
    );
    assert.ok(permission.inputs.function.endsWith("-dev-authorizer"));
  });

  const tokenItems = (recorded: RecordedResource[]) => ofType(recorded, "aws:dynamodb/tableItem:TableItem");

  it("stores only SHA-256 hashes, ids and scopes, one secret item per token (a client key's, scope evaluate, too)", () => {
    const table = single(resources, "aws:dynamodb/table:Table", "-tokens");
    assert.equal(table.inputs.hashKey, "sha256");
    assert.deepEqual(table.inputs.globalSecondaryIndexes, [{ name: "byId", hashKey: "id", projectionType: "ALL" }]);
    const items = tokenItems(resources);
    // Every function that looks tokens up is told the table's name, in the clear.
    for (const fn of ["-dev-authorizer", "-dev-ws-authorizer", "-dev-ofrep", "-dev-events"]) {
      assert.equal(single(resources, FUNCTION, fn).inputs.environment.variables.TOKENS_TABLE_NAME, table.name, fn);
    }
    for (const item of items) {
      assert.equal(item.inputs.tableName, table.name);
      assert.equal(item.inputs.hashKey, "sha256");
      // A record's hash keys its stream credentials: kept secret in the state.
      assert.ok(typeof item.inputs.item !== "string", "a token item is not marked secret");
    }
    assert.deepEqual(
      items.map((item) => JSON.parse(reveal(item.inputs.item))),
      [
        { sha256: { S: hashToken(TOKENS[0].token) }, id: { S: "ci-bot" }, scopes: { SS: ["write"] } },
        { sha256: { S: hashToken(TOKENS[1].token) }, id: { S: "dashboard" }, scopes: { SS: ["read"] } },
        { sha256: { S: hashToken(TOKENS[2].token) }, id: { S: "web-page" }, scopes: { SS: ["evaluate"] } },
      ],
    );
  });

  it("lets the authorizers GetItem on the tokens table only, and OFREP and the event stream Query its byId index only", () => {
    const table = `arn:aws:dynamodb:eu-west-1:123456789012:table/${single(resources, "aws:dynamodb/table:Table", "-tokens").name}`;
    for (const authorizer of ["-dev-authorizer-policy", "-dev-ws-authorizer-policy"]) {
      assert.deepEqual(dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", authorizer)), [
        { actions: ["dynamodb:GetItem"], resources: [table] },
      ]);
    }
    for (const fn of ["-dev-ofrep-policy", "-dev-events-policy"]) {
      const tokenGrants = dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", fn)).filter((grant) =>
        grant.resources.some((resource) => resource.startsWith(table)),
      );
      assert.deepEqual(tokenGrants, [{ actions: ["dynamodb:Query"], resources: [`${table}/index/byId`] }], fn);
    }
  });

  it("deploys a stack with 1,000 tokens: 1,000 items, none holding its token", async function () {
    this.timeout(60_000);
    const many = Array.from({ length: 1000 }, (_, i) => ({
      id: `client-key-${String(i).padStart(4, "0")}`,
      token: `many-tokens-secret-${String(i).padStart(4, "0")}-XXXXXXXXXXXXXXXX`,
      scopes: i % 2 === 0 ? ["evaluate"] : ["read"],
    }));
    const recorded = await runProgram({ apiTokens: JSON.stringify(many) });
    const items = tokenItems(recorded);
    assert.equal(items.length, 1000);
    const stored = items.map((item) => reveal(item.inputs.item));
    assert.equal(new Set(stored.map((text) => JSON.parse(text).sha256.S)).size, 1000);
    assert.ok(stored.some((text) => text.includes(hashToken(many[999].token))));
    const everything = JSON.stringify(recorded.map((r) => ({ ...r.inputs, code: undefined })));
    for (const { token } of [many[0], many[500], many[999]]) assert.ok(!everything.includes(token));
  });

  it("puts no plaintext token in any resource input, environment or Lambda archive", async () => {
    const everything = JSON.stringify(resources.map((r) => ({ ...r.inputs, code: undefined })));
    const archives = await Promise.all(
      ofType(resources, FUNCTION).map(async (fn) => {
        const artifact = await materialize(fn);
        return (await import("node:fs")).readFileSync(artifact.indexPath, "utf8");
      }),
    );
    for (const { token } of TOKENS) {
      assert.ok(!everything.includes(token), "a resource input holds a plaintext token");
      for (const text of archives) assert.ok(!text.includes(token), "an __index.js holds a plaintext token");
    }
  });

  it("writes no token item when apiTokens is unset, so every guarded request is refused", async () => {
    const unset = await runProgram();
    assert.equal(tokenItems(unset).length, 0);
    single(unset, "aws:dynamodb/table:Table", "-tokens");
  });
});

describe("CORS (Pulumi mocks)", () => {
  it("is off by default: no origins for the functions, no CORS header on gateway responses", async () => {
    const resources = await runProgram();
    const flagFunctions = ofType(resources, FUNCTION).filter((f) => /-(read|write|delete)$/.test(f.name));
    assert.equal(flagFunctions.length, 3);
    for (const fn of flagFunctions) {
      assert.equal(fn.inputs.environment.variables.CORS_ORIGINS, "[]");
    }
    const spec = JSON.parse(single(resources, "aws:apigateway/restApi:RestApi").inputs.body);
    assert.equal(spec["x-amazon-apigateway-gateway-responses"].UNAUTHORIZED.responseParameters, undefined);
  });

  it("passes configured origins to the functions and names a single one on gateway responses", async () => {
    const resources = await runProgram({ corsOrigins: JSON.stringify(["https://admin.example.com"]) });
    const read = single(resources, FUNCTION, "-read");
    assert.equal(read.inputs.environment.variables.CORS_ORIGINS, '["https://admin.example.com"]');
    const spec = JSON.parse(single(resources, "aws:apigateway/restApi:RestApi").inputs.body);
    assert.equal(
      spec["x-amazon-apigateway-gateway-responses"].UNAUTHORIZED.responseParameters[
        "gatewayresponse.header.Access-Control-Allow-Origin"
      ],
      "'https://admin.example.com'",
    );
    assert.equal(spec.paths["/flags"].options.security.length, 0);
  });

  it("refuses an origin that is not scheme://host[:port]", async () => {
    await assert.rejects(runProgram({ corsOrigins: JSON.stringify(["*"]) }), /corsOrigins entry '\*'/);
  });
});
