import { strict as assert } from "node:assert";
import { FANOUT_WORKER_TIMEOUT_SECONDS, FANOUT_WORKER_WAIT_MS } from "../../handlers/realtime/scaleout";
import { dataGrants } from "../support/policies";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const FUNCTION = "aws:lambda/function:Function";
const ESM = "aws:lambda/eventSourceMapping:EventSourceMapping";

describe("Realtime (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  const named = (suffix: string) => `feature-flags-dev-${suffix}`;
  const policyOf = (suffix: string) =>
    dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", `-dev-${suffix}-policy`));

  before(async () => {
    resources = await runProgram();
  });

  it("is a WebSocket API routing on $request.body.action", () => {
    const api = single(resources, "aws:apigatewayv2/api:Api");
    assert.equal(api.inputs.protocolType, "WEBSOCKET");
    assert.equal(api.inputs.routeSelectionExpression, "$request.body.action");
  });

  it("routes $connect, $disconnect and $default to their functions, $connect behind the token authorizer", () => {
    const routes = ofType(resources, "aws:apigatewayv2/route:Route");
    const integrations = ofType(resources, "aws:apigatewayv2/integration:Integration");
    const authorizer = single(resources, "aws:apigatewayv2/authorizer:Authorizer");
    const expected = { $connect: "ws-connect", $disconnect: "ws-disconnect", $default: "ws-default" };
    assert.deepEqual(routes.map((r) => r.inputs.routeKey).sort(), Object.keys(expected).sort());
    for (const [key, fn] of Object.entries(expected)) {
      const route = routes.find((r) => r.inputs.routeKey === key) as RecordedResource;
      const integration = integrations.find((i) => route.inputs.target === `integrations/${i.name}-id`);
      assert.equal(integration?.inputs.integrationType, "AWS_PROXY");
      assert.ok(integration?.inputs.integrationUri.includes(`function:${named(fn)}/invocations`), key);
      if (key === "$connect") {
        assert.equal(route.inputs.authorizationType, "CUSTOM");
        assert.equal(route.inputs.authorizerId, `${authorizer.name}-id`);
      } else {
        assert.equal(route.inputs.authorizationType, undefined, key);
      }
    }
  });

  it("takes the token from ?token= (browsers cannot set headers on a WebSocket)", () => {
    const authorizer = single(resources, "aws:apigatewayv2/authorizer:Authorizer");
    assert.equal(authorizer.inputs.authorizerType, "REQUEST");
    assert.deepEqual(authorizer.inputs.identitySources, ["route.request.querystring.token"]);
    assert.ok(authorizer.inputs.authorizerUri.includes(`function:${named("ws-authorizer")}/invocations`));
  });

  it("lets API Gateway invoke each WebSocket function for its own route only", () => {
    const api = single(resources, "aws:apigatewayv2/api:Api");
    const executionArn = `arn:aws:execute-api:eu-west-1:123456789012:${api.name}-id`;
    const permissions = ofType(resources, "aws:lambda/permission:Permission").filter((p) => p.name.includes("-ws-"));
    assert.deepEqual(
      permissions.map((p) => [p.inputs.function, p.inputs.sourceArn]).sort(),
      [
        [named("ws-authorizer"), `${executionArn}/authorizers/*`],
        [named("ws-connect"), `${executionArn}/*/$connect`],
        [named("ws-default"), `${executionArn}/*/$default`],
        [named("ws-disconnect"), `${executionArn}/*/$disconnect`],
      ].sort(),
    );
  });

  it("deploys a throttled stage named after the stack", () => {
    const stage = single(resources, "aws:apigatewayv2/stage:Stage");
    assert.equal(stage.inputs.name, "dev");
    assert.equal(stage.inputs.autoDeploy, true);
    assert.equal(stage.inputs.defaultRouteSettings.throttlingRateLimit, 100);
    assert.equal(stage.inputs.defaultRouteSettings.throttlingBurstLimit, 200);
  });

  it("keeps connections in a table keyed on connectionId, with TTL and a NEW_IMAGE stream", () => {
    const table = single(resources, "aws:dynamodb/table:Table", "-connections");
    assert.equal(table.inputs.hashKey, "connectionId");
    assert.deepEqual(table.inputs.ttl, { attributeName: "expiresAt", enabled: true });
    assert.equal(table.inputs.streamEnabled, true);
    assert.equal(table.inputs.streamViewType, "NEW_IMAGE");
  });

  describe("stream consumers", () => {
    const mapping = (suffix: string) => single(resources, ESM, `-dev-${suffix}-source`);

    it("feeds the flags stream to the fan-out and new connections (INSERTs only) to the snapshot sender", () => {
      const flags = single(resources, "aws:dynamodb/table:Table", "-flags");
      const connections = single(resources, "aws:dynamodb/table:Table", "-connections");
      assert.equal(mapping("fanout").inputs.functionName, named("fanout"));
      assert.match(mapping("fanout").inputs.eventSourceArn, new RegExp(`table/${flags.name}/stream/`));
      // Changes only: a read's or an evaluation's stamp invokes nothing (tests/handlers/streamFilters.test.ts).
      assert.deepEqual(
        mapping("fanout").inputs.filterCriteria.filters.map((f: { pattern: string }) => JSON.parse(f.pattern)),
        [
          { eventName: ["INSERT", "REMOVE"] },
          { eventName: ["MODIFY"], dynamodb: { NewImage: { stamp: { S: [{ exists: false }] } } } },
        ],
      );
      assert.equal(mapping("snapshot").inputs.functionName, named("snapshot"));
      assert.match(mapping("snapshot").inputs.eventSourceArn, new RegExp(`table/${connections.name}/stream/`));
      assert.deepEqual(
        mapping("snapshot").inputs.filterCriteria.filters.map((f: { pattern: string }) => JSON.parse(f.pattern)),
        [{ eventName: ["INSERT"] }],
      );
    });

    it("feeds the evaluators stream to the fan-out too, without the flag-set version item", () => {
      const evaluators = single(resources, "aws:dynamodb/table:Table", "-evaluators");
      assert.equal(mapping("fanout-evaluators").inputs.functionName, named("fanout"));
      assert.match(mapping("fanout-evaluators").inputs.eventSourceArn, new RegExp(`table/${evaluators.name}/stream/`));
      const patterns = mapping("fanout-evaluators").inputs.filterCriteria.filters.map((f: { pattern: string }) =>
        JSON.parse(f.pattern),
      );
      assert.deepEqual(patterns, [{ dynamodb: { Keys: { name: { S: [{ "anything-but": ["$flagset"] }] } } } }]);
    });

    it("report partial batch failures, bisect, retry a bounded number of times and end in an encrypted DLQ", () => {
      const dlq = single(resources, "aws:sqs/queue:Queue", "-stream-dlq");
      assert.equal(dlq.inputs.sqsManagedSseEnabled, true);
      for (const suffix of ["fanout", "fanout-evaluators", "snapshot"]) {
        const inputs = mapping(suffix).inputs;
        assert.deepEqual(inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
        assert.equal(inputs.bisectBatchOnFunctionError, true);
        assert.equal(inputs.maximumRetryAttempts, 5);
        assert.equal(inputs.maximumRecordAgeInSeconds, 3600);
        assert.equal(inputs.startingPosition, "LATEST");
        assert.equal(inputs.parallelizationFactor, 1);
        assert.equal(
          inputs.destinationConfig.onFailure.destinationArn,
          `arn:aws:sqs:eu-west-1:123456789012:${dlq.name}`,
        );
      }
    });
  });

  describe("least privilege", () => {
    const api = () => single(resources, "aws:apigatewayv2/api:Api");
    const manage = () => `arn:aws:execute-api:eu-west-1:123456789012:${api().name}-id/dev/POST/@connections/*`;
    const table = (suffix: string) =>
      `arn:aws:dynamodb:eu-west-1:123456789012:table/${single(resources, "aws:dynamodb/table:Table", suffix).name}`;

    it("scopes execute-api:ManageConnections to this API's stage", () => {
      for (const fn of ["ws-default", "snapshot", "fanout", "fanout-worker"]) {
        assert.deepEqual(
          policyOf(fn).find((g) => g.actions.includes("execute-api:ManageConnections")),
          { actions: ["execute-api:ManageConnections"], resources: [manage()] },
          fn,
        );
      }
    });

    it("lets connect only put, and disconnect only delete, connection rows", () => {
      assert.deepEqual(policyOf("ws-connect"), [{ actions: ["dynamodb:PutItem"], resources: [table("-connections")] }]);
      assert.deepEqual(policyOf("ws-disconnect"), [
        { actions: ["dynamodb:DeleteItem"], resources: [table("-connections")] },
      ]);
    });

    it("lets the fan-out read its streams, scan, size and prune connections, scan evaluators, post, start its worker, and dead-letter — nothing else", () => {
      const flagsStream = single(resources, "aws:dynamodb/table:Table", "-flags");
      assert.deepEqual(policyOf("fanout"), [
        {
          actions: ["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:Scan"],
          resources: [table("-connections")],
        },
        { actions: ["dynamodb:Scan"], resources: [table("-evaluators")] },
        { actions: ["execute-api:ManageConnections"], resources: [manage()] },
        {
          actions: ["sqs:SendMessage"],
          resources: [
            `arn:aws:sqs:eu-west-1:123456789012:${single(resources, "aws:sqs/queue:Queue", "-stream-dlq").name}`,
          ],
        },
        {
          actions: ["lambda:InvokeFunction"],
          resources: [`arn:aws:lambda:eu-west-1:123456789012:function:${named("fanout-worker")}`],
        },
        {
          actions: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
          resources: [
            `${table("-flags")}/stream/2026-11-22T00:00:00.000`,
            `${table("-evaluators")}/stream/2026-11-22T00:00:00.000`,
          ],
        },
        { actions: ["dynamodb:ListStreams"], resources: ["*"] },
      ]);
      assert.ok(flagsStream);
    });

    it("lets the fan-out worker scan and prune connections and post — nothing else", () => {
      assert.deepEqual(policyOf("fanout-worker"), [
        { actions: ["dynamodb:DeleteItem", "dynamodb:Scan"], resources: [table("-connections")] },
        { actions: ["execute-api:ManageConnections"], resources: [manage()] },
      ]);
    });

    it("lets the snapshot senders scan the evaluators table, and tells them its name", () => {
      const evaluators = single(resources, "aws:dynamodb/table:Table", "-evaluators");
      for (const fn of ["ws-default", "snapshot", "fanout"]) {
        const scans = policyOf(fn).filter((g) => g.resources.includes(table("-evaluators")));
        assert.deepEqual(scans, [{ actions: ["dynamodb:Scan"], resources: [table("-evaluators")] }], fn);
        const variables = single(resources, FUNCTION, named(fn)).inputs.environment.variables;
        assert.equal(variables.EVALUATORS_TABLE_NAME, evaluators.name, fn);
      }
    });

    it("lets the WebSocket authorizer GetItem on the tokens table only", () => {
      assert.deepEqual(policyOf("ws-authorizer"), [{ actions: ["dynamodb:GetItem"], resources: [table("-tokens")] }]);
    });
  });

  it("gives the CPU-bound fan-out and its worker a full vCPU", () => {
    for (const fn of ["fanout", "fanout-worker"])
      assert.equal(single(resources, FUNCTION, named(fn)).inputs.memorySize, 1769);
  });

  describe("fan-out scale-out", () => {
    it("tells the fan-out its worker's ARN and how to divide the work", () => {
      const variables = single(resources, FUNCTION, named("fanout")).inputs.environment.variables;
      assert.equal(
        variables.FANOUT_WORKER_FUNCTION,
        `arn:aws:lambda:eu-west-1:123456789012:function:${named("fanout-worker")}`,
      );
      assert.equal(variables.FANOUT_POSTS_PER_INVOCATION, "1000");
      assert.equal(variables.FANOUT_MAX_WORKERS, "100");
    });

    it("gives a worker less time than the fan-out that waits for it, so a slow worker cannot time it out", () => {
      const fanout = single(resources, FUNCTION, named("fanout")).inputs.timeout;
      const worker = single(resources, FUNCTION, named("fanout-worker")).inputs.timeout;
      assert.equal(worker, FANOUT_WORKER_TIMEOUT_SECONDS);
      // The fan-out gives up on a worker at its timeout plus a cold start's init, and keeps time
      // for its own reads before it invokes and its answer after.
      const spare = fanout - FANOUT_WORKER_WAIT_MS / 1000;
      assert.ok(spare >= 30, `the fan-out has ${spare} s of its ${fanout} beyond waiting for a worker`);
    });

    it("tells the worker only the connections table and where PostToConnection goes", () => {
      const variables = single(resources, FUNCTION, named("fanout-worker")).inputs.environment.variables;
      assert.deepEqual(Object.keys(variables).sort(), ["CONNECTIONS_TABLE_NAME", "WEBSOCKET_ENDPOINT"]);
    });
  });

  it("tells the pushing functions where PostToConnection goes", () => {
    const api = single(resources, "aws:apigatewayv2/api:Api");
    for (const fn of ["ws-default", "snapshot", "fanout", "fanout-worker"]) {
      const variables = single(resources, FUNCTION, named(fn)).inputs.environment.variables;
      assert.equal(variables.WEBSOCKET_ENDPOINT, `https://${api.name}-id.execute-api.eu-west-1.amazonaws.com/dev`);
    }
  });
});
