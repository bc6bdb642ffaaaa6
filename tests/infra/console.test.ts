import { strict as assert } from "node:assert";
import { ROUTES } from "../../handlers/routes";
import { consoleCalls } from "../support/serviceCalls";
import { roleArn, simulate, trustPolicy } from "../support/iam";
import { ACCOUNT, ofType, type RecordedResource, REGION, runProgram, single } from "../support/pulumiMocks";

const OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2";

interface IntegrationResponse {
  statusCode: string;
  responseParameters: Record<string, string>;
  responseTemplates?: Record<string, string>;
}

/**
 * The integration response API Gateway picks for an AWS integration's answer: the one whose
 * selection pattern (its key) matches the whole HTTP status code, else `default`.
 */
function selectResponse(responses: Record<string, IntegrationResponse>, status: number): IntegrationResponse {
  const matched = Object.entries(responses).find(
    ([pattern]) => pattern !== "default" && new RegExp(`^(?:${pattern})$`).test(String(status)),
  );
  const response = matched?.[1] ?? responses.default;
  if (response === undefined) throw new Error(`no integration response for ${status}`);
  return response;
}

describe("ConsoleSite and the console routes (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  let spec: { paths: Record<string, Record<string, any>> };
  const objectWithKey = (pattern: RegExp) => ofType(resources, OBJECT).find((o) => pattern.test(o.inputs.key));
  const consolePaths = () => Object.keys(spec.paths).filter((p) => p.startsWith("/console"));

  before(async () => {
    resources = await runProgram();
    spec = JSON.parse(single(resources, "aws:apigateway/restApi:RestApi").inputs.body);
  });

  it("uploads the built console: content-hashed assets cached for good, page and config revalidated", () => {
    const script = objectWithKey(/^console\/assets\/app-[A-Z0-9]+\.js$/);
    const style = objectWithKey(/^console\/assets\/app-[A-Z0-9]+\.css$/);
    const index = objectWithKey(/^console\/index\.html$/);
    const config = objectWithKey(/^console\/config\.json$/);
    assert.ok(script && style && index && config, "script, style, index.html and config.json are uploaded");
    for (const asset of [script, style]) assert.match(asset.inputs.cacheControl, /max-age=31536000, immutable/);
    for (const page of [index, config]) assert.equal(page.inputs.cacheControl, "no-cache");
    assert.equal(index.inputs.contentType, "text/html; charset=utf-8");
  });

  it("writes the stack's WebSocket URL into config.json and stage-absolute asset paths into the page", async () => {
    const config = JSON.parse(await objectWithKey(/config\.json$/)!.inputs.source.text);
    const html: string = await objectWithKey(/index\.html$/)!.inputs.source.text;
    assert.match(config.websocketUrl, /^wss:\/\/.+\.execute-api\..+\/dev$/);
    assert.match(html, /src="\/dev\/console\/assets\/app-[A-Z0-9]+\.js"/);
    assert.match(html, /href="\/dev\/console\/assets\/app-[A-Z0-9]+\.css"/);
  });

  it("serves /console, its config and assets from S3 without the authorizer", () => {
    assert.deepEqual(consolePaths().sort(), ["/console", "/console/assets/{file}", "/console/config.json"]);
    for (const path of consolePaths()) {
      const operation = spec.paths[path].get;
      assert.deepEqual(operation.security, [], `${path} needs no token`);
      const integration = operation["x-amazon-apigateway-integration"];
      assert.equal(integration.type, "aws");
      assert.match(integration.uri, new RegExp(`^arn:aws:apigateway:${REGION}:s3:path/.+/console/`));
      assert.match(integration.credentials, /role\/.*console-reader$/);
    }
  });

  it("keeps the authorizer on every data route: only the catalogue's token-free routes go without", () => {
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (path.startsWith("/console")) continue;
      for (const [method, operation] of Object.entries(methods)) {
        const route = ROUTES.find((r) => r.resource === path && r.method === method.toUpperCase());
        assert.ok(route, `${method.toUpperCase()} ${path} is in the route catalogue`);
        // Token-free by design: /health, the preflights, and the OFREP event stream (its
        // credential is in the URL and checked by its handler).
        if (route.scope === null) continue;
        assert.notDeepEqual(operation.security, [], `${method.toUpperCase()} ${path} is guarded`);
      }
    }
    const open = ROUTES.filter((r) => r.scope === null && r.method !== "OPTIONS").map((r) => r.resource);
    assert.deepEqual(open.sort(), ["/health", "/ofrep/v1/events"]);
  });

  it("sends a CSP without unsafe-inline or unsafe-eval on every console response, allowing the WebSocket", () => {
    for (const path of consolePaths()) {
      const responses = spec.paths[path].get["x-amazon-apigateway-integration"].responses;
      for (const response of Object.values<{ responseParameters: Record<string, string> }>(responses)) {
        const csp = response.responseParameters["method.response.header.Content-Security-Policy"];
        assert.match(csp, /^'.*script-src 'self'.*'$/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        assert.match(csp, /connect-src 'self' wss:\/\/[^ ;]+\.execute-api\.[^ ;]+amazonaws\.com/);
      }
    }
  });

  it("caches by content hash: the page revalidated, assets immutable", () => {
    const cacheOf = (path: string) =>
      selectResponse(spec.paths[path].get["x-amazon-apigateway-integration"].responses, 200).responseParameters[
        "method.response.header.Cache-Control"
      ];
    assert.equal(cacheOf("/console"), "'no-cache'");
    assert.equal(cacheOf("/console/config.json"), "'no-cache'");
    assert.match(cacheOf("/console/assets/{file}"), /immutable/);
  });

  describe("what S3's answer becomes", () => {
    const answerTo = (path: string, status: number) => {
      const operation = spec.paths[path].get;
      const response = selectResponse(operation["x-amazon-apigateway-integration"].responses, status);
      assert.ok(
        operation.responses[response.statusCode],
        `${path}: ${response.statusCode} is a declared method response`,
      );
      const body = response.responseTemplates?.["application/json"];
      return {
        status: response.statusCode,
        cache: response.responseParameters["method.response.header.Cache-Control"],
        contentType: response.responseParameters["method.response.header.Content-Type"],
        body: body === undefined ? undefined : JSON.parse(body),
      };
    };

    it("serves S3's 2xx as a 200 with the file's own Content-Type and its cache policy", () => {
      for (const path of consolePaths()) {
        const ok = answerTo(path, 200);
        assert.equal(ok.status, "200", path);
        assert.equal(ok.contentType, "integration.response.header.Content-Type", path);
        assert.notEqual(ok.cache, "'no-store'", path);
        assert.equal(ok.body, undefined, "S3's object passes through");
      }
    });

    it("answers S3's 403 and 404 (a missing key) with an uncached 404 in the contract's body", () => {
      for (const path of consolePaths()) {
        for (const status of [403, 404]) {
          const missing = answerTo(path, status);
          assert.equal(missing.status, "404", `${path} ${status}`);
          assert.equal(missing.cache, "'no-store'");
          assert.equal(missing.body.error.code, "ROUTE_NOT_FOUND");
        }
      }
    });

    it("answers S3's 500, 503 or anything else with an uncached 503, never a 200 cached for a year", () => {
      for (const path of consolePaths()) {
        for (const status of [500, 503, 301, 2000]) {
          const failed = answerTo(path, status);
          assert.equal(failed.status, "503", `${path} ${status}`);
          assert.equal(failed.cache, "'no-store'", `${path} ${status}`);
          assert.equal(failed.contentType, "'application/json'");
          assert.equal(failed.body.error.code, "DEPENDENCY_UNAVAILABLE");
        }
      }
    });
  });

  it("lets API Gateway's role read the console's objects and nothing else (iam-simulate)", async () => {
    const calls = consoleCalls(resources);
    assert.ok(calls.length > 0);
    const wrong: string[] = [];
    for (const call of calls) {
      const decision = await simulate(call.request, { identity: call.identity, resource: call.resource });
      if ((decision === "Allowed") !== call.allowed)
        wrong.push(`${call.what}: ${call.request.action} ${call.request.resource} → ${decision}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("lets API Gateway assume the reader role for this account only, whenever it names one (iam-simulate)", async () => {
    const role = single(resources, "aws:iam/role:Role", "-console-reader");
    const assume = (context: Record<string, string>) =>
      simulate(
        { principal: "apigateway.amazonaws.com", action: "sts:AssumeRole", resource: roleArn(role.name), context },
        { resource: trustPolicy(role) },
      );
    assert.equal(await assume({ "aws:SourceAccount": ACCOUNT }), "Allowed");
    assert.equal(await assume({ "aws:SourceAccount": "210987654321" }), "ImplicitlyDenied");
    // API Gateway documents no source keys for integration credentials: without them, still allowed.
    assert.equal(await assume({}), "Allowed");
  });

  it("exports consoleUrl: the API's URL + /console/", async () => {
    const program = await import("../../index");
    const url = await new Promise<string>((resolve) => program.consoleUrl!.apply(resolve));
    assert.match(url, /^https:\/\/.+\.execute-api\..+\/dev\/console\/$/);
  });
});
