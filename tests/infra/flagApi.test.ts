import { strict as assert } from "node:assert";
import { ROUTES } from "../../handlers/routes";
import { dataGrants, statementsOf } from "../support/policies";
import { rulesOf, wafAnswer } from "../support/waf";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const FUNCTION = "aws:lambda/function:Function";
const WEB_ACL = "aws:wafv2/webAcl:WebAcl";
const PARAMETER = "aws:ssm/parameter:Parameter";
const FLAG_FUNCTIONS = ["-read", "-write", "-delete", "-ofrep", "-events", "-schedules", "-flagset"];
const OFREP = "/dev/ofrep/v1/evaluate/flags";
/** An address that has sent `count` requests to `path` in the last minute. */
const flooded = (path: string, count: number) => ({ [path]: count });
const rateRule = (resources: RecordedResource[], name: string) =>
  rulesOf(single(resources, WEB_ACL)).find((rule) => rule.Name === name)?.Statement.RateBasedStatement;
const headerCount = (resources: RecordedResource[]) =>
  rulesOf(single(resources, WEB_ACL)).reduce(
    (sum, rule) => sum + (rule.Action.Block?.CustomResponse?.ResponseHeaders?.length ?? 0),
    0,
  );
const flagFunctions = (resources: RecordedResource[]) =>
  ofType(resources, FUNCTION).filter((fn) => FLAG_FUNCTIONS.some((suffix) => fn.name === `feature-flags-dev${suffix}`));

describe("FlagApi (Pulumi mocks)", () => {
  let resources: RecordedResource[];

  before(async () => {
    resources = await runProgram();
  });

  describe("evaluators table", () => {
    it("is keyed on name, on demand, protected like the flags table, with a stream", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-evaluators");
      assert.equal(table.inputs.hashKey, "name");
      assert.equal(table.inputs.billingMode, "PAY_PER_REQUEST");
      assert.equal(table.inputs.streamEnabled, true);
      assert.equal(table.inputs.pointInTimeRecovery.enabled, true);
      assert.equal(table.inputs.serverSideEncryption.enabled, true);
      assert.equal(table.inputs.deletionProtectionEnabled, true);
    });

    it("is named in every flag function's environment", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-evaluators");
      for (const fn of flagFunctions(resources)) {
        assert.equal(fn.inputs.environment.variables.EVALUATORS_TABLE_NAME, table.name, fn.name);
      }
    });
  });

  describe("history table", () => {
    it("is keyed on flagName and seq, on demand, protected like the flags table, without a stream", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-history");
      assert.equal(table.inputs.hashKey, "flagName");
      assert.equal(table.inputs.rangeKey, "seq");
      assert.deepEqual(table.inputs.attributes, [
        { name: "flagName", type: "S" },
        { name: "seq", type: "N" },
      ]);
      assert.equal(table.inputs.billingMode, "PAY_PER_REQUEST");
      assert.notEqual(table.inputs.streamEnabled, true, "its items travel on the flags table's stream already");
      assert.equal(table.inputs.pointInTimeRecovery.enabled, true);
      assert.equal(table.inputs.serverSideEncryption.enabled, true);
      assert.equal(table.inputs.deletionProtectionEnabled, true);
    });

    it("is named in the environment of the functions that read or write it", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-history");
      for (const suffix of ["-read", "-write", "-delete"]) {
        assert.equal(single(resources, FUNCTION, suffix).inputs.environment.variables.HISTORY_TABLE_NAME, table.name);
      }
    });
  });

  describe("flags table", () => {
    it("is keyed on flagName, on demand, with a NEW_AND_OLD_IMAGES stream", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-flags");
      assert.equal(table.inputs.hashKey, "flagName");
      assert.deepEqual(table.inputs.attributes, [{ name: "flagName", type: "S" }]);
      assert.equal(table.inputs.billingMode, "PAY_PER_REQUEST");
      assert.equal(table.inputs.streamEnabled, true);
      assert.equal(table.inputs.streamViewType, "NEW_AND_OLD_IMAGES");
    });

    it("has point-in-time recovery, encryption at rest and deletion protection", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-flags");
      assert.equal(table.inputs.pointInTimeRecovery.enabled, true);
      assert.equal(table.inputs.serverSideEncryption.enabled, true);
      assert.equal(table.inputs.deletionProtectionEnabled, true);
    });
  });

  describe("REST API", () => {
    const spec = () => JSON.parse(single(resources, "aws:apigateway/restApi:RestApi").inputs.body);

    it("defines every route of the contract, each proxied to its group's function", () => {
      const functions = flagFunctions(resources);
      const paths = spec().paths;
      for (const route of ROUTES) {
        const operation = paths[route.resource]?.[route.method.toLowerCase()];
        assert.ok(operation, `${route.method} ${route.resource} is missing`);
        const integration = operation["x-amazon-apigateway-integration"];
        assert.equal(integration.type, "aws_proxy");
        assert.equal(integration.httpMethod, "POST");
        const target = functions.find((fn) => integration.uri.includes(`function:${fn.name}/`));
        assert.ok(target?.name.endsWith(`-${route.group}`), `${route.method} ${route.resource} → ${integration.uri}`);
      }
      // The console's static routes are S3 integrations, checked in console.test.ts.
      const defined = Object.entries(paths)
        .filter(([path]) => !path.startsWith("/console"))
        .flatMap(([, methods]) => Object.keys(methods as object));
      assert.equal(defined.length, ROUTES.length);
    });

    it("streams the OFREP event stream: InvokeWithResponseStream, STREAM transfer, 15 minutes; its preflight is buffered", () => {
      const paths = spec().paths;
      const events = single(resources, FUNCTION, "-dev-events");
      const integration = paths["/ofrep/v1/events"].get["x-amazon-apigateway-integration"];
      assert.equal(
        integration.uri,
        `arn:aws:apigateway:eu-west-1:lambda:path/2021-11-15/functions/arn:aws:lambda:eu-west-1:123456789012:function:${events.name}/response-streaming-invocations`,
      );
      assert.equal(integration.responseTransferMode, "STREAM");
      assert.equal(integration.timeoutInMillis, 900_000);
      // No authorizer: EventSource sends no header; the URL's credential is the handler's to check.
      assert.deepEqual(paths["/ofrep/v1/events"].get.security, []);
      const preflight = paths["/ofrep/v1/events"].options["x-amazon-apigateway-integration"];
      assert.equal(preflight.responseTransferMode, undefined);
      assert.match(preflight.uri, /function:[^/]+-ofrep\/invocations$/);
      // Every other route is buffered.
      const streamed = Object.values<
        Record<string, { "x-amazon-apigateway-integration": { responseTransferMode?: string } }>
      >(paths)
        .flatMap((methods) => Object.values(methods))
        .filter((operation) => operation["x-amazon-apigateway-integration"].responseTransferMode !== undefined);
      assert.equal(streamed.length, 1);
    });

    it("answers unknown routes with the contract's error body instead of API Gateway's 403", () => {
      const responses = spec()["x-amazon-apigateway-gateway-responses"];
      const missing = responses.MISSING_AUTHENTICATION_TOKEN;
      assert.equal(missing.statusCode, "404");
      assert.equal(JSON.parse(missing.responseTemplates["application/json"]).error.code, "ROUTE_NOT_FOUND");
      assert.match(responses.DEFAULT_5XX.responseTemplates["application/json"], /"code":"INTERNAL"/);
    });

    it("deploys to a stage named after the stack, redeploying when the definition changes", () => {
      const stage = single(resources, "aws:apigateway/stage:Stage");
      const deployment = single(resources, "aws:apigateway/deployment:Deployment");
      assert.equal(stage.inputs.stageName, "dev");
      assert.equal(stage.inputs.deployment, `${deployment.name}-id`);
      assert.match(deployment.inputs.triggers.definition, /^[0-9a-f]{64}$/);
    });

    it("throttles the stage", () => {
      const settings = single(resources, "aws:apigateway/methodSettings:MethodSettings");
      assert.equal(settings.inputs.methodPath, "*/*");
      assert.equal(settings.inputs.settings.throttlingRateLimit, 100);
      assert.equal(settings.inputs.settings.throttlingBurstLimit, 200);
    });

    it("lets API Gateway invoke each function for its own routes only", () => {
      const permissions = ofType(resources, "aws:lambda/permission:Permission").filter(
        (p) =>
          p.inputs.principal === "apigateway.amazonaws.com" &&
          !p.name.endsWith("-invoke-authorizer") &&
          !p.name.includes("-ws-"),
      );
      assert.equal(permissions.length, ROUTES.length);
      const api = single(resources, "aws:apigateway/restApi:RestApi");
      for (const route of ROUTES) {
        const sourceArn = `arn:aws:execute-api:eu-west-1:123456789012:${api.name}-id/*/${route.method}${route.resource.replace(/\{[^}]+\}/g, "*")}`;
        const permission = permissions.find((p) => p.inputs.sourceArn === sourceArn);
        assert.ok(permission, `no permission for ${sourceArn}`);
        assert.equal(permission.inputs.principal, "apigateway.amazonaws.com");
        assert.ok(permission.inputs.function.endsWith(`-${route.group}`));
      }
    });

    it("puts a web ACL on the stage", () => {
      const acl = single(resources, WEB_ACL);
      const association = single(resources, "aws:wafv2/webAclAssociation:WebAclAssociation");
      const stage = single(resources, "aws:apigateway/stage:Stage");
      assert.equal(
        association.inputs.resourceArn,
        `arn:aws:apigateway:eu-west-1::/restapis/${stage.inputs.restApi}/stages/dev`,
      );
      assert.equal(association.inputs.webAclArn, `arn:aws:mock:eu-west-1:123456789012:${acl.name}`);
      assert.equal(acl.inputs.associationConfig.requestBodies[0].apiGateway.defaultSizeInspectionLimit, "KB_64");
    });

    it("answers a body over 64 KiB with the contract's 413, inspecting what WAF cannot see as too large", () => {
      const acl = single(resources, WEB_ACL);
      const size = rulesOf(acl).find((rule) => rule.Statement.SizeConstraintStatement !== undefined);
      assert.deepEqual(size.Statement.SizeConstraintStatement.FieldToMatch, { Body: { OversizeHandling: "MATCH" } });
      assert.equal(size.Statement.SizeConstraintStatement.ComparisonOperator, "GT");
      assert.equal(size.Statement.SizeConstraintStatement.Size, 65536);

      const refused = wafAnswer(acl, { path: "/dev/flags", bodyBytes: 65537 });
      const allowed = wafAnswer(acl, { path: "/dev/flags", bodyBytes: 65536 });

      assert.equal(refused?.status, 413);
      assert.equal(refused?.body.error.code, "PAYLOAD_TOO_LARGE");
      assert.equal(allowed, undefined);
    });

    it("rate-limits OFREP per source IP, 1,000 requests a minute by default, with the contract's 429", () => {
      const acl = single(resources, WEB_ACL);
      const rate = rateRule(resources, "ofrep-rate-limit");
      assert.equal(rate.Limit, 1000);
      assert.equal(rate.EvaluationWindowSec, 60);
      assert.equal(rate.AggregateKeyType, "IP");

      const thousandth = wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 999) });
      const throttled = wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 1000) });

      assert.equal(thousandth, undefined);
      assert.equal(throttled?.status, 429);
      assert.equal(throttled?.body.error.code, "THROTTLED");
      assert.equal(throttled?.headers["Retry-After"], "60");
      assert.equal(throttled?.headers["Access-Control-Allow-Origin"], undefined, "CORS is off in this stack");
    });

    it("counts only OFREP paths against the OFREP limit", () => {
      const acl = single(resources, WEB_ACL);
      assert.equal(wafAnswer(acl, { path: "/dev/flags", recent: flooded("/dev/flags", 1500) }), undefined);
      const bare = "/ofrep/v1/evaluate/flags/x";
      assert.equal(wafAnswer(acl, { path: bare, recent: flooded(bare, 1000) })?.status, 429);
    });

    it("rate-limits every path per source IP, 3,000 requests a minute by default: a /health flood gets 429", () => {
      const acl = single(resources, WEB_ACL);
      const rate = rateRule(resources, "rate-limit");
      assert.equal(rate.Limit, 3000);
      assert.equal(rate.EvaluationWindowSec, 60);
      assert.equal(rate.AggregateKeyType, "IP");
      assert.equal(rate.ScopeDownStatement, undefined, "every path counts");

      const underLimit = wafAnswer(acl, { path: "/dev/health", recent: flooded("/dev/health", 2999) });
      const flood = wafAnswer(acl, { path: "/dev/health", recent: flooded("/dev/health", 3000) });
      const anotherAddress = wafAnswer(acl, { path: "/dev/health" });

      assert.equal(underLimit, undefined);
      assert.equal(flood?.status, 429);
      assert.equal(flood?.body.error.code, "THROTTLED");
      assert.match(flood?.body.error.message, /more than 3000 requests or 1000 OFREP requests .* in 60 s/);
      assert.equal(flood?.headers["Retry-After"], "60");
      assert.equal(anotherAddress, undefined, "the flood's address is refused, not everyone");
    });

    it("counts an address's requests to every path together: over 3,000, even its OFREP requests under 1,000 get 429", () => {
      const acl = single(resources, WEB_ACL);
      const recent = { "/dev/flags": 2500, "/dev/console/assets/app.js": 300, [OFREP]: 200 };

      assert.equal(wafAnswer(acl, { path: OFREP, recent })?.status, 429);
      assert.equal(wafAnswer(acl, { path: "/dev/flags/checkout", recent })?.status, 429);
    });

    it("gives every rule its own name and priority", () => {
      const rules = rulesOf(single(resources, WEB_ACL));
      assert.equal(new Set(rules.map((rule) => rule.Name)).size, rules.length);
      assert.equal(new Set(rules.map((rule) => rule.Priority)).size, rules.length);
    });
  });

  describe("functions", () => {
    it("run nodejs24.x, each with its own role and its own log group", () => {
      const functions = ofType(resources, FUNCTION);
      assert.ok(functions.length >= 4);
      const roles = new Set(functions.map((fn) => fn.inputs.role));
      assert.equal(roles.size, functions.length);
      for (const fn of functions) {
        assert.equal(fn.inputs.runtime, "nodejs24.x");
        assert.equal(fn.inputs.role, `arn:aws:iam::123456789012:role/${fn.name}-role`);
        assert.equal(fn.inputs.loggingConfig.logGroup, `/aws/lambda/${fn.name}-logs`);
        assert.equal(fn.inputs.loggingConfig.logFormat, "JSON");
      }
    });

    it("give the event-stream function 15 minutes, and reserve (so cap) its concurrency at 100", () => {
      const events = single(resources, FUNCTION, "-dev-events");
      assert.equal(events.inputs.timeout, 900);
      assert.equal(events.inputs.reservedConcurrentExecutions, 100);
      assert.equal(events.inputs.memorySize, 256);
      for (const fn of ofType(resources, FUNCTION).filter((f) => f !== events)) {
        assert.equal(fn.inputs.reservedConcurrentExecutions, undefined, fn.name);
      }
    });

    it("keep logs for logRetentionDays, 30 by default", () => {
      const groups = ofType(resources, "aws:cloudwatch/logGroup:LogGroup");
      // One per function, and each stage's access and execution logs.
      assert.equal(groups.length, ofType(resources, FUNCTION).length + 4);
      for (const group of groups) assert.equal(group.inputs.retentionInDays, 30);
    });

    it("name the table and the parameter in their environment", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-flags");
      const parameter = single(resources, PARAMETER, "-allow-flag-deletion");
      for (const fn of flagFunctions(resources)) {
        assert.equal(fn.inputs.environment.variables.FLAGS_TABLE_NAME, table.name);
      }
      const deleteFn = single(resources, FUNCTION, "-delete");
      assert.equal(deleteFn.inputs.environment.variables.ALLOW_FLAG_DELETION_PARAMETER, parameter.inputs.name);
    });
  });

  describe("least privilege", () => {
    it("gives each function exactly the data-plane actions its routes need", () => {
      const table = single(resources, "aws:dynamodb/table:Table", "-flags");
      const parameter = single(resources, PARAMETER, "-allow-flag-deletion");
      const tableArn = `arn:aws:dynamodb:eu-west-1:123456789012:table/${table.name}`;
      const grants = (suffix: string) =>
        dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", `${suffix}-policy`));
      const evaluators = single(resources, "aws:dynamodb/table:Table", "-evaluators");
      const evaluatorsArn = `arn:aws:dynamodb:eu-west-1:123456789012:table/${evaluators.name}`;
      const dynamo = (actions: string[], resource: string) => ({
        actions: actions.map((a) => `dynamodb:${a}`),
        resources: [resource],
      });
      const history = single(resources, "aws:dynamodb/table:Table", "-history");
      const historyArn = `arn:aws:dynamodb:eu-west-1:123456789012:table/${history.name}`;
      const schedules = single(resources, "aws:dynamodb/table:Table", "-schedules");
      const schedulesArn = `arn:aws:dynamodb:eu-west-1:123456789012:table/${schedules.name}`;
      const group = single(resources, "aws:scheduler/scheduleGroup:ScheduleGroup");
      const groupSchedules = `arn:aws:scheduler:eu-west-1:123456789012:schedule/${group.inputs.name}/*`;
      // A rollout's steps: only the group's `rollout-*` schedules, passing the same target role.
      const rolloutClock = [
        {
          actions: ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
          resources: [`arn:aws:scheduler:eu-west-1:123456789012:schedule/${group.inputs.name}/rollout-*`],
        },
        { actions: ["iam:PassRole"], resources: ["arn:aws:iam::123456789012:role/feature-flags-dev-scheduler-role"] },
      ];
      assert.deepEqual(grants("-read"), [
        dynamo(["GetItem", "Scan"], tableArn),
        dynamo(["UpdateItem"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        dynamo(["Query"], historyArn),
        dynamo(["GetItem", "Query"], schedulesArn),
      ]);
      assert.deepEqual(grants("-write"), [
        dynamo(["GetItem", "PutItem", "UpdateItem"], tableArn),
        dynamo(["DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"], evaluatorsArn),
        dynamo(["PutItem", "Query"], historyArn),
        // Rollouts: read, started, aborted; their steps armed and disarmed.
        dynamo(["GetItem", "PutItem", "UpdateItem"], schedulesArn),
        ...rolloutClock,
      ]);
      assert.deepEqual(grants("-delete"), [
        dynamo(["DeleteItem", "UpdateItem"], tableArn),
        dynamo(["UpdateItem"], evaluatorsArn),
        dynamo(["PutItem"], historyArn),
        {
          actions: ["ssm:GetParameter"],
          resources: [`arn:aws:ssm:eu-west-1:123456789012:parameter${parameter.inputs.name}`],
        },
        // Cancelling schedules (a deleted flag's too) and deleting their EventBridge schedules.
        dynamo(["Query", "UpdateItem"], schedulesArn),
        dynamo(["GetItem"], tableArn),
        // A deleted flag's running rollout ends.
        dynamo(["GetItem"], schedulesArn),
        { actions: ["scheduler:DeleteSchedule"], resources: [groupSchedules] },
      ]);
      // Creating schedules: the only function that may create EventBridge schedules and pass their role.
      assert.deepEqual(grants("-schedules"), [
        dynamo(["GetItem"], tableArn),
        dynamo(["DeleteItem", "PutItem", "Query"], schedulesArn),
        { actions: ["scheduler:CreateSchedule"], resources: [groupSchedules] },
        { actions: ["iam:PassRole"], resources: ["arn:aws:iam::123456789012:role/feature-flags-dev-scheduler-role"] },
      ]);
      // The runner: the flag's update transaction, the schedule's or rollout's own record, the
      // running rollouts an alarm guards (Scan), and the next step of a rollout.
      assert.deepEqual(grants("-schedule-runner"), [
        dynamo(["GetItem", "UpdateItem"], tableArn),
        dynamo(["UpdateItem"], evaluatorsArn),
        dynamo(["PutItem"], historyArn),
        dynamo(["GetItem", "Scan", "UpdateItem"], schedulesArn),
        ...rolloutClock,
      ]);
      // The import: the flag set read whole, each change as the write and delete functions make
      // it, the deletion switch, and a pruned flag's schedules and rollout.
      assert.deepEqual(grants("-flagset"), [
        dynamo(["DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"], tableArn),
        dynamo(["DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"], evaluatorsArn),
        dynamo(["PutItem", "Query"], historyArn),
        {
          actions: ["ssm:GetParameter"],
          resources: [`arn:aws:ssm:eu-west-1:123456789012:parameter${parameter.inputs.name}`],
        },
        dynamo(["GetItem", "Query", "UpdateItem"], schedulesArn),
        { actions: ["scheduler:DeleteSchedule"], resources: [groupSchedules] },
      ]);
      // A token's record by id: the tokens table's byId index only.
      const tokens = single(resources, "aws:dynamodb/table:Table", "-tokens");
      const readTokens = {
        actions: ["dynamodb:Query"],
        resources: [`arn:aws:dynamodb:eu-west-1:123456789012:table/${tokens.name}/index/byId`],
      };
      assert.deepEqual(grants("-ofrep"), [
        dynamo(["Scan"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        dynamo(["UpdateItem"], tableArn),
        readTokens,
      ]);
      assert.deepEqual(grants("-dev-events"), [
        dynamo(["Scan"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        readTokens,
      ]);
    });

    it("lets the OFREP function update no attribute of a flag but lastEvaluated (and the stamp marker)", () => {
      const statements = statementsOf(single(resources, "aws:iam/rolePolicy:RolePolicy", "-ofrep-policy"));
      const update = statements.find((s) => s.Action.includes("dynamodb:UpdateItem"));
      assert.deepEqual(update?.Condition, {
        "ForAllValues:StringEquals": { "dynamodb:Attributes": ["flagName", "lastEvaluated", "stamp"] },
      });
      const writes = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
      for (const action of ["dynamodb:PutItem", "dynamodb:DeleteItem"]) assert.ok(!writes.includes(action), action);
    });

    it("lets the read function update no attribute of a flag but lastAccessed (and the stamp marker)", () => {
      const statements = statementsOf(single(resources, "aws:iam/rolePolicy:RolePolicy", "-read-policy"));
      const updates = statements.filter((s) => s.Action.includes("dynamodb:UpdateItem"));
      assert.equal(updates.length, 1);
      assert.deepEqual(updates[0].Condition, {
        "ForAllValues:StringEquals": { "dynamodb:Attributes": ["flagName", "lastAccessed", "stamp"] },
      });
      const writes = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
      for (const action of ["dynamodb:PutItem", "dynamodb:DeleteItem"]) assert.ok(!writes.includes(action), action);
    });

    it("lets each function write only to its own log group", () => {
      for (const fn of ofType(resources, FUNCTION)) {
        const logStatements = statementsOf(
          single(resources, "aws:iam/rolePolicy:RolePolicy", `${fn.name}-policy`),
        ).filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).some((a) => a.startsWith("logs:")));
        assert.deepEqual(logStatements, [
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: `arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/${fn.name}-logs:*`,
          },
        ]);
      }
    });
  });

  describe("allow-flag-deletion parameter", () => {
    it('is "true" by default, under a path named for the project and stack', () => {
      const parameter = single(resources, PARAMETER, "-allow-flag-deletion");
      assert.equal(parameter.inputs.name, "/feature-flags/dev/allow-flag-deletion");
      assert.equal(parameter.inputs.insecureValue, "true");
    });
  });
});

describe("FlagApi stack configuration (Pulumi mocks)", () => {
  it('writes "false" to the parameter when allowFlagDeletion is false', async () => {
    const resources = await runProgram({ allowFlagDeletion: "false" });
    assert.equal(single(resources, PARAMETER, "-allow-flag-deletion").inputs.insecureValue, "false");
  });

  it("applies logRetentionDays to every log group", async () => {
    const resources = await runProgram({ logRetentionDays: "7" });
    const groups = ofType(resources, "aws:cloudwatch/logGroup:LogGroup");
    assert.ok(groups.length > 0);
    for (const group of groups) assert.equal(group.inputs.retentionInDays, 7);
  });

  it("refuses a retention CloudWatch Logs does not offer, naming the fix", async () => {
    await assert.rejects(runProgram({ logRetentionDays: "31" }), /logRetentionDays 31 .*use one of/);
  });
});

describe("CORS on every path and every refusal (Pulumi mocks)", () => {
  const APP = "https://app.example.com";
  const ADMIN = "https://admin.example.com";
  let resources: RecordedResource[];
  const spec = (from = resources) => JSON.parse(single(from, "aws:apigateway/restApi:RestApi").inputs.body);

  before(async () => {
    resources = await runProgram({ corsOrigins: JSON.stringify([APP, ADMIN]) });
  });

  it("gives every path of the document an OPTIONS operation without a token", () => {
    const paths = spec().paths;
    assert.ok(
      Object.keys(paths).some((path) => path.startsWith("/console")),
      "the console's paths are walked too",
    );
    for (const [path, operations] of Object.entries<Record<string, any>>(paths)) {
      assert.ok(operations.options, `${path} has no options operation`);
      assert.deepEqual(operations.options.security, [], path);
    }
  });

  it("sends the catalogue's preflights to the function serving the path, which answers them", () => {
    const paths = spec().paths;
    for (const route of ROUTES.filter((r) => r.method === "OPTIONS")) {
      const integration = paths[route.resource].options["x-amazon-apigateway-integration"];
      assert.equal(integration.type, "aws_proxy", route.resource);
      assert.ok(integration.uri.includes(`-${route.group}/invocations`), route.resource);
    }
  });

  it("answers the console's preflights in API Gateway with 204 and no CORS headers: its files are same-origin", () => {
    const paths = spec().paths;
    for (const path of ["/console", "/console/config.json", "/console/assets/{file}"]) {
      const integration = paths[path].options["x-amazon-apigateway-integration"];
      assert.equal(integration.type, "mock", path);
      assert.equal(JSON.parse(integration.requestTemplates["application/json"]).statusCode, 204);
      assert.equal(integration.responses.default.statusCode, "204");
      assert.equal(integration.responses.default.responseParameters, undefined, path);
    }
  });

  it("echoes the request's Origin on every gateway response when several origins are allowed", () => {
    const responses = spec()["x-amazon-apigateway-gateway-responses"];
    for (const [type, response] of Object.entries<any>(responses)) {
      const parameters = response.responseParameters ?? {};
      assert.equal(
        parameters["gatewayresponse.header.Access-Control-Allow-Origin"],
        "method.request.header.Origin",
        type,
      );
      assert.equal(parameters["gatewayresponse.header.Vary"], "'Origin'", type);
    }
    assert.equal(
      responses.THROTTLED.responseParameters["gatewayresponse.header.Access-Control-Expose-Headers"],
      "'ETag, Location, Retry-After'",
    );
    assert.equal(responses.THROTTLED.responseParameters["gatewayresponse.header.Retry-After"], "'1'");
  });

  it("names a single allowed origin statically on every gateway response", async () => {
    const one = await runProgram({ corsOrigins: JSON.stringify([APP]) });
    for (const [type, response] of Object.entries<any>(spec(one)["x-amazon-apigateway-gateway-responses"])) {
      assert.equal(response.responseParameters["gatewayresponse.header.Access-Control-Allow-Origin"], `'${APP}'`, type);
    }
  });

  for (const origin of [APP, ADMIN]) {
    it(`lets a page on ${origin} read WAF's 413 and 429: each names that origin`, () => {
      const acl = single(resources, WEB_ACL);

      const tooLarge = wafAnswer(acl, { path: "/dev/flags", origin, bodyBytes: 70_000 });
      const throttled = wafAnswer(acl, { path: OFREP, origin, recent: flooded(OFREP, 1000) });
      const flood = wafAnswer(acl, { path: "/dev/health", origin, recent: flooded("/dev/health", 3000) });

      assert.equal(tooLarge?.status, 413);
      assert.equal(tooLarge?.body.error.code, "PAYLOAD_TOO_LARGE");
      assert.equal(tooLarge?.headers["Access-Control-Allow-Origin"], origin);
      assert.equal(throttled?.status, 429);
      assert.equal(throttled?.body.error.code, "THROTTLED");
      assert.equal(throttled?.headers["Access-Control-Allow-Origin"], origin);
      assert.equal(throttled?.headers["Retry-After"], "60");
      assert.match(throttled?.headers["Access-Control-Expose-Headers"] ?? "", /\bRetry-After\b/);
      assert.deepEqual(flood, throttled, "a flood of any path gets the same readable 429");
    });
  }

  it("refuses a request from another origin, or with none, without naming any origin", () => {
    const acl = single(resources, WEB_ACL);
    for (const origin of ["https://evil.example.com", undefined]) {
      const tooLarge = wafAnswer(acl, { path: "/dev/flags", origin, bodyBytes: 70_000 });
      const throttled = wafAnswer(acl, { path: OFREP, origin, recent: flooded(OFREP, 1000) });
      assert.equal(tooLarge?.status, 413);
      assert.equal(throttled?.status, 429);
      assert.equal(tooLarge?.headers["Access-Control-Allow-Origin"], undefined);
      assert.equal(throttled?.headers["Access-Control-Allow-Origin"], undefined);
    }
  });

  it("lets through what neither rule refuses, whatever the origin", () => {
    const acl = single(resources, WEB_ACL);
    assert.equal(wafAnswer(acl, { path: "/dev/ofrep/v1/evaluate/flags", origin: APP, bodyBytes: 100 }), undefined);
  });

  it("stays within WAF's quota of 100 custom response headers", () => {
    const count = headerCount(resources);
    assert.ok(count <= 100, `${count} headers`);
  });

  it("spends no custom response header on the all-paths rate rule: both rate rules share one 429", async () => {
    const withoutIt = await runProgram({ corsOrigins: JSON.stringify([APP, ADMIN]), rateLimit: "0" });
    assert.equal(headerCount(resources), headerCount(withoutIt));
  });

  it("refuses more origins than the quota allows, naming the fix", async () => {
    const many = Array.from({ length: 20 }, (_, i) => `https://app${i}.example.com`);
    await assert.rejects(
      runProgram({ corsOrigins: JSON.stringify(many) }),
      /custom response headers.*list fewer origins/,
    );
  });
});

describe("rate limit configuration (Pulumi mocks)", () => {
  it("takes the OFREP limit from ofrepRateLimit", async () => {
    const resources = await runProgram({ ofrepRateLimit: "5000" });
    assert.equal(rateRule(resources, "ofrep-rate-limit").Limit, 5000);
  });

  it("drops the OFREP rate rule with ofrepRateLimit 0, keeping the all-paths one and the body limit", async () => {
    const resources = await runProgram({ ofrepRateLimit: "0" });
    const acl = single(resources, WEB_ACL);
    assert.equal(rateRule(resources, "ofrep-rate-limit"), undefined);
    assert.equal(wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 2000) }), undefined);
    assert.equal(wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 3000) })?.status, 429);
    assert.equal(wafAnswer(acl, { path: "/dev/flags", bodyBytes: 70_000 })?.status, 413);
  });

  it("takes the all-paths limit from rateLimit", async () => {
    const resources = await runProgram({ rateLimit: "600" });
    const acl = single(resources, WEB_ACL);
    assert.equal(rateRule(resources, "rate-limit").Limit, 600);
    assert.equal(wafAnswer(acl, { path: "/dev/health", recent: flooded("/dev/health", 600) })?.status, 429);
  });

  it("drops the all-paths rule with rateLimit 0, keeping the OFREP one", async () => {
    const resources = await runProgram({ rateLimit: "0" });
    const acl = single(resources, WEB_ACL);
    assert.equal(rateRule(resources, "rate-limit"), undefined);
    assert.equal(wafAnswer(acl, { path: "/dev/health", recent: flooded("/dev/health", 100_000) }), undefined);
    assert.equal(wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 1000) })?.status, 429);
  });

  it("has no 429 at all with both limits 0", async () => {
    const resources = await runProgram({ rateLimit: "0", ofrepRateLimit: "0" });
    const acl = single(resources, WEB_ACL);
    assert.equal(wafAnswer(acl, { path: OFREP, recent: flooded(OFREP, 100_000) }), undefined);
    assert.deepEqual(
      acl.inputs.customResponseBodies.map((b: { key: string }) => b.key),
      ["payload-too-large"],
    );
  });

  for (const key of ["ofrepRateLimit", "rateLimit"]) {
    it(`refuses a ${key} below WAF's lowest, naming the setting`, async () => {
      await assert.rejects(runProgram({ [key]: "5" }), new RegExp(`${key} 5 must be 0 \\(off\\) or .* from 10`));
    });
  }
});

describe("eventStreamConcurrency configuration (Pulumi mocks)", () => {
  it("reserves the OFREP event-stream function's concurrency from the stack's eventStreamConcurrency", async () => {
    const resources = await runProgram({ eventStreamConcurrency: "250" });
    assert.equal(single(resources, FUNCTION, "-dev-events").inputs.reservedConcurrentExecutions, 250);
  });

  it("refuses a concurrency below 1, naming the setting", async () => {
    await assert.rejects(runProgram({ eventStreamConcurrency: "0" }), /eventStreamConcurrency 0 must be/);
  });
});
