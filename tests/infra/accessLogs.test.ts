import { strict as assert } from "node:assert";
import { TYPICAL_READ } from "../support/accessLogEvents";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const REST_STAGE = "aws:apigateway/stage:Stage";
const WS_STAGE = "aws:apigatewayv2/stage:Stage";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";

/**
 * Every $context variable the access logs may use, reviewed: none can hold a token. Excluded on
 * purpose: anything with the query string (a WebSocket client's `?token=`), and `path` on the
 * WebSocket stage (REST_PATH below),
 * `requestOverride.*`/`responseOverride.*` (headers), `authorizer.<key>` other than principalId
 * (whatever the authorizer returns), `identity.apiKey`, `error.message`/`authorizer.error` (free text).
 */
const SAFE_VARIABLES = new Set([
  "requestId",
  "xrayTraceId",
  "requestTimeEpoch",
  "identity.sourceIp",
  "authorizer.principalId",
  "httpMethod",
  "resourcePath",
  "status",
  "responseLatency",
  "integrationLatency",
  "responseLength",
  "error.responseType",
  "connectionId",
  "eventType",
  "routeKey",
  "authorizer.latency",
]);

/**
 * The REST stage's `$context.path` is the stage and path without the query string (the flag a read
 * names, for its `read` audit line); it is the WebSocket handshake's URL that carries `?token=`.
 */
const REST_PATH = "path";

const variablesOf = (format: string): string[] => [...format.matchAll(/\$context\.([A-Za-z0-9_.]+)/g)].map((m) => m[1]);

/** The line API Gateway writes: each variable replaced by its value (`-` when it has none). */
const substitute = (format: string, value: (variable: string) => string): unknown =>
  JSON.parse(format.replace(/\$context\.([A-Za-z0-9_.]+)/g, (_, variable: string) => value(variable)));

describe("stage access logs (Pulumi mocks)", () => {
  let resources: RecordedResource[];

  before(async () => {
    resources = await runProgram({ logRetentionDays: "14" });
  });

  const stages = () => [
    { kind: "REST", stage: single(resources, REST_STAGE) },
    { kind: "WebSocket", stage: single(resources, WS_STAGE) },
  ];

  it("send each stage's access logs to its own log group, kept for logRetentionDays", () => {
    const destinations = new Set<string>();
    for (const { kind, stage } of stages()) {
      const destination: string = stage.inputs.accessLogSettings?.destinationArn;
      assert.ok(destination, `${kind} stage has no access logs`);
      const group = ofType(resources, LOG_GROUP).find((g) => destination.endsWith(`log-group:/aws/lambda/${g.name}`));
      assert.ok(group, `${kind}: ${destination} is not a log group of the stack`);
      assert.equal(group.inputs.retentionInDays, 14, kind);
      destinations.add(destination);
    }
    assert.equal(destinations.size, 2);
  });

  it("write one JSON object per request, whatever the values (including API Gateway's '-' for none)", () => {
    for (const { kind, stage } of stages()) {
      const format: string = stage.inputs.accessLogSettings.format;
      for (const value of [() => "-", (v: string) => `value of ${v}`, () => "1234"]) {
        const line = substitute(format, value);
        assert.equal(typeof line, "object", kind);
        assert.ok(!Array.isArray(line) && line !== null, kind);
      }
    }
  });

  it("say who called what, how it ended and how long it took", () => {
    const fields = (format: string) => Object.values(JSON.parse(format) as Record<string, string>);
    const rest = fields(single(resources, REST_STAGE).inputs.accessLogSettings.format);
    for (const variable of [
      "requestId",
      "authorizer.principalId",
      "resourcePath",
      "httpMethod",
      "status",
      "responseLatency",
      "integrationLatency",
    ]) {
      assert.ok(rest.includes(`$context.${variable}`), `REST: ${variable}`);
    }
    const ws = fields(single(resources, WS_STAGE).inputs.accessLogSettings.format);
    for (const variable of [
      "requestId",
      "authorizer.principalId",
      "routeKey",
      "eventType",
      "status",
      "integrationLatency",
    ]) {
      assert.ok(ws.includes(`$context.${variable}`), `WebSocket: ${variable}`);
    }
  });

  it("log no variable that can carry a token (the WebSocket's ?token= included)", () => {
    for (const { kind, stage } of stages()) {
      const variables = variablesOf(stage.inputs.accessLogSettings.format);
      assert.ok(variables.length > 5, kind);
      for (const variable of variables) {
        if (kind === "REST" && variable === REST_PATH) continue;
        assert.ok(SAFE_VARIABLES.has(variable), `${kind} logs $context.${variable}`);
        assert.doesNotMatch(variable, /query|^path$|Override|apiKey|token/i, `${kind} logs $context.${variable}`);
      }
    }
  });

  it("holds nothing but $context variables (no stage variable, no literal secret)", () => {
    for (const { kind, stage } of stages()) {
      const values = Object.values(JSON.parse(stage.inputs.accessLogSettings.format) as Record<string, string>);
      for (const value of values) assert.match(value, /^\$context\.[A-Za-z0-9_.]+$/, kind);
    }
  });
});

describe("stage execution logging and tracing (Pulumi mocks)", () => {
  it("logs errors only by default, never bodies or headers, and traces the REST stage with X-Ray", async () => {
    const resources = await runProgram();
    const settings = single(resources, "aws:apigateway/methodSettings:MethodSettings").inputs.settings;
    assert.equal(settings.loggingLevel, "ERROR");
    assert.equal(settings.dataTraceEnabled, false);
    assert.equal(single(resources, REST_STAGE).inputs.xrayTracingEnabled, true);
    const ws = single(resources, WS_STAGE).inputs.defaultRouteSettings;
    assert.equal(ws.loggingLevel, "ERROR");
    assert.equal(ws.dataTraceEnabled, false);
  });

  it("logs every request's steps with executionLogLevel INFO, still without data tracing", async () => {
    const resources = await runProgram({ executionLogLevel: "INFO" });
    const settings = single(resources, "aws:apigateway/methodSettings:MethodSettings").inputs.settings;
    assert.equal(settings.loggingLevel, "INFO");
    assert.equal(settings.dataTraceEnabled, false);
    assert.equal(single(resources, WS_STAGE).inputs.defaultRouteSettings.loggingLevel, "INFO");
    assert.equal(single(resources, WS_STAGE).inputs.defaultRouteSettings.dataTraceEnabled, false);
  });

  it("creates each stage's execution log group, where API Gateway writes, with logRetentionDays", async () => {
    const resources = await runProgram({ logRetentionDays: "60" });
    const rest = single(resources, "aws:apigateway/restApi:RestApi");
    const ws = single(resources, "aws:apigatewayv2/api:Api");
    const named = ofType(resources, LOG_GROUP)
      .filter((g) => g.inputs.name !== undefined)
      .map((g) => [g.inputs.name, g.inputs.retentionInDays]);
    assert.deepEqual(named.sort(), [
      [`/aws/apigateway/${ws.name}-id/dev`, 60],
      [`API-Gateway-Execution-Logs_${rest.name}-id/dev`, 60],
    ]);
  });

  it("refuses an execution log level other than ERROR or INFO", async () => {
    await assert.rejects(runProgram({ executionLogLevel: "DEBUG" }), /executionLogLevel 'DEBUG' must be ERROR or INFO/);
  });

  it("traces the REST stage through its own sampling rule: the first request each second and 0.5 % of the rest, or traceSampleRate", async () => {
    const rule = (resources: RecordedResource[]) => {
      const api = single(resources, "aws:apigateway/restApi:RestApi");
      const rules = ofType(resources, "aws:xray/samplingRule:SamplingRule");
      assert.equal(rules.length, 1);
      const [only] = rules;
      // X-Ray names an API Gateway stage's segments `<api name>/<stage>`: the rule applies to this stage only.
      assert.equal(only.inputs.serviceName, `${api.inputs.name ?? api.name}/dev`);
      assert.equal(only.inputs.serviceType, "AWS::ApiGateway::Stage");
      // Ahead of the account's default rule (priority 10000, 5 %), within X-Ray's name limit.
      assert.ok(only.inputs.priority < 10000);
      assert.ok(only.inputs.ruleName.length <= 32, only.inputs.ruleName);
      return only.inputs;
    };
    const defaults = rule(await runProgram());
    assert.equal(defaults.fixedRate, 0.005);
    assert.equal(defaults.reservoirSize, 1);
    assert.equal(rule(await runProgram({ traceSampleRate: "0.2" })).fixedRate, 0.2);
    await assert.rejects(runProgram({ traceSampleRate: "1.5" }), /traceSampleRate 1.5 must be between 0 and 1/);
  });

  it("keeps a typical REST line short: every request pays for its bytes in CloudWatch Logs", async () => {
    const format: string = single(await runProgram(), REST_STAGE).inputs.accessLogSettings.format;
    const line = JSON.stringify(substitute(format, (variable) => TYPICAL_READ[variable] ?? "-"));
    assert.ok(Buffer.byteLength(line) <= 360, `${Buffer.byteLength(line)} bytes: ${line}`);
  });
});
