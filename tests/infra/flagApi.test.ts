import { strict as assert } from "node:assert";
import { ROUTES } from "../../handlers/routes";
import { dataGrants, statementsOf } from "../support/policies";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const FUNCTION = "aws:lambda/function:Function";
const PARAMETER = "aws:ssm/parameter:Parameter";
const FLAG_FUNCTIONS = ["-read", "-write", "-delete", "-ofrep", "-events"];
const flagFunctions = (resources: RecordedResource[]) =>
  ofType(resources, FUNCTION).filter((fn) => FLAG_FUNCTIONS.some((suffix) => fn.name.endsWith(suffix)));

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
      const events = single(resources, FUNCTION, "-events");
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
        (p) => !p.name.endsWith("-invoke-authorizer") && !p.name.includes("-ws-"),
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

    it("puts a WAF rule on the stage that answers bodies over 64 KiB with the contract's 413", () => {
      const acl = single(resources, "aws:wafv2/webAcl:WebAcl");
      const association = single(resources, "aws:wafv2/webAclAssociation:WebAclAssociation");
      const stage = single(resources, "aws:apigateway/stage:Stage");
      assert.equal(
        association.inputs.resourceArn,
        `arn:aws:apigateway:eu-west-1::/restapis/${stage.inputs.restApi}/stages/dev`,
      );
      assert.equal(association.inputs.webAclArn, `arn:aws:mock:eu-west-1:123456789012:${acl.name}`);
      const [rule] = JSON.parse(acl.inputs.ruleJson);
      assert.deepEqual(rule.Statement.SizeConstraintStatement.FieldToMatch, { Body: { OversizeHandling: "MATCH" } });
      assert.equal(rule.Statement.SizeConstraintStatement.ComparisonOperator, "GT");
      assert.equal(rule.Statement.SizeConstraintStatement.Size, 65536);
      assert.equal(rule.Action.Block.CustomResponse.ResponseCode, 413);
      assert.equal(acl.inputs.associationConfig.requestBodies[0].apiGateway.defaultSizeInspectionLimit, "KB_64");
      const body = acl.inputs.customResponseBodies.find(
        (b: { key: string }) => b.key === rule.Action.Block.CustomResponse.CustomResponseBodyKey,
      );
      assert.equal(JSON.parse(body.content).error.code, "PAYLOAD_TOO_LARGE");
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
      const events = single(resources, FUNCTION, "-events");
      assert.equal(events.inputs.timeout, 900);
      assert.equal(events.inputs.reservedConcurrentExecutions, 100);
      assert.equal(events.inputs.memorySize, 256);
      for (const fn of ofType(resources, FUNCTION).filter((f) => f !== events)) {
        assert.equal(fn.inputs.reservedConcurrentExecutions, undefined, fn.name);
      }
    });

    it("keep logs for logRetentionDays, 30 by default", () => {
      const groups = ofType(resources, "aws:cloudwatch/logGroup:LogGroup");
      assert.equal(groups.length, ofType(resources, FUNCTION).length);
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
      assert.deepEqual(grants("-read"), [
        dynamo(["GetItem", "Scan", "UpdateItem"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        dynamo(["Query"], historyArn),
      ]);
      assert.deepEqual(grants("-write"), [
        dynamo(["GetItem", "PutItem", "UpdateItem"], tableArn),
        dynamo(["DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"], evaluatorsArn),
        dynamo(["PutItem", "Query"], historyArn),
      ]);
      assert.deepEqual(grants("-delete"), [
        dynamo(["DeleteItem", "UpdateItem"], tableArn),
        dynamo(["UpdateItem"], evaluatorsArn),
        dynamo(["PutItem"], historyArn),
        {
          actions: ["ssm:GetParameter"],
          resources: [`arn:aws:ssm:eu-west-1:123456789012:parameter${parameter.inputs.name}`],
        },
      ]);
      const tokens = single(resources, PARAMETER, "-api-tokens");
      const readTokens = {
        actions: ["ssm:GetParameter"],
        resources: [`arn:aws:ssm:eu-west-1:123456789012:parameter${tokens.inputs.name}`],
      };
      assert.deepEqual(grants("-ofrep"), [
        dynamo(["Scan"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        dynamo(["UpdateItem"], tableArn),
        readTokens,
      ]);
      assert.deepEqual(grants("-events"), [
        dynamo(["Scan"], tableArn),
        dynamo(["GetItem", "Scan"], evaluatorsArn),
        readTokens,
      ]);
    });

    it("lets the OFREP function update no attribute of a flag but lastEvaluated", () => {
      const statements = statementsOf(single(resources, "aws:iam/rolePolicy:RolePolicy", "-ofrep-policy"));
      const update = statements.find((s) => s.Action.includes("dynamodb:UpdateItem"));
      assert.deepEqual(update?.Condition, {
        "ForAllValues:StringEquals": { "dynamodb:Attributes": ["flagName", "lastEvaluated"] },
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
