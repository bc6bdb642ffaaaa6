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

  it("stores only SHA-256 hashes, ids and scopes, in a SecureString (a client key's, scope evaluate, too)", () => {
    const parameter = single(resources, "aws:ssm/parameter:Parameter", "-api-tokens");
    assert.equal(parameter.inputs.type, "SecureString");
    assert.equal(parameter.inputs.name, "/feature-flags/dev/api-tokens");
    assert.deepEqual(JSON.parse(reveal(parameter.inputs.value)), [
      { id: "ci-bot", sha256: hashToken(TOKENS[0].token), scopes: ["write"] },
      { id: "dashboard", sha256: hashToken(TOKENS[1].token), scopes: ["read"] },
      { id: "web-page", sha256: hashToken(TOKENS[2].token), scopes: ["evaluate"] },
    ]);
  });

  it("lets the authorizer read only the tokens parameter", () => {
    const parameter = single(resources, "aws:ssm/parameter:Parameter", "-api-tokens");
    assert.deepEqual(dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", "-dev-authorizer-policy")), [
      {
        actions: ["ssm:GetParameter"],
        resources: [`arn:aws:ssm:eu-west-1:123456789012:parameter${parameter.inputs.name}`],
      },
    ]);
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

  it("stores an empty token list when apiTokens is unset, so every guarded request is refused", async () => {
    const unset = await runProgram();
    assert.equal(reveal(single(unset, "aws:ssm/parameter:Parameter", "-api-tokens").inputs.value), "[]");
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
