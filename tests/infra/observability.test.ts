import { strict as assert } from "node:assert";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter";

describe("Observability (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  const topicArn = () => `arn:aws:sns:eu-west-1:123456789012:${single(resources, "aws:sns/topic:Topic").name}`;

  before(async () => {
    resources = await runProgram({ alarmEmail: "oncall@example.com" });
  });
  const errorLogFilters = () => ofType(resources, FILTER).filter((f) => f.name.endsWith("-error-logs"));

  it("filters every function's log group for ERROR-level lines, so every function is covered", () => {
    const functions = ofType(resources, "aws:lambda/function:Function");
    const filters = errorLogFilters();
    assert.equal(functions.length, 18);
    assert.equal(filters.length, functions.length, "exactly one error-log filter per function of this program");
    for (const fn of functions) {
      const filter = filters.find((f) => f.inputs.logGroupName === fn.inputs.loggingConfig.logGroup);
      assert.ok(filter, `${fn.name} has no error-log filter`);
      // Which lines each pattern matches is proven against real log lines in tests/artifact/alarms.
      assert.match(filter.inputs.pattern, /\$\.level = "ERROR"/);
      assert.equal(filter.inputs.metricTransformation.value, "1");
    }
  });

  it("watches AWS/Lambda Errors of every function: timeouts, out-of-memory kills and init crashes log no ERROR line", () => {
    const alarms = ofType(resources, ALARM);
    for (const fn of ofType(resources, "aws:lambda/function:Function")) {
      const watching = alarms.filter((alarm) =>
        [alarm.inputs, ...(alarm.inputs.metricQueries ?? []).map((q: { metric?: unknown }) => q.metric ?? {})].some(
          (m) => m.namespace === "AWS/Lambda" && m.metricName === "Errors" && m.dimensions?.FunctionName === fn.name,
        ),
      );
      assert.equal(watching.length, 1, `${fn.name}: one alarm on its Errors metric`);
      const [alarm] = watching;
      assert.equal(alarm.inputs.threshold, 0);
      assert.equal(alarm.inputs.comparisonOperator, "GreaterThanThreshold");
      assert.deepEqual(alarm.inputs.alarmActions, [topicArn()]);
      const queries: Array<{ id: string; expression?: string }> = alarm.inputs.metricQueries ?? [];
      if (queries.length > 0) {
        // Only the refusals the function throws on purpose are subtracted, nothing else.
        assert.equal(
          queries.find((q) => q.expression !== undefined)?.expression,
          "FILL(errors, 0) - FILL(expected, 0)",
        );
      }
    }
  });

  it("alarms on any error line within 5 minutes, not on missing data, to the topic", () => {
    const filters = errorLogFilters();
    for (const filter of filters) {
      const metric = filter.inputs.metricTransformation;
      const alarm = ofType(resources, ALARM).find(
        (a) => a.inputs.metricName === metric.name && a.inputs.namespace === metric.namespace,
      );
      assert.ok(alarm, `no alarm on ${metric.name}`);
      assert.equal(alarm.inputs.statistic, "Sum");
      assert.equal(alarm.inputs.period, 300);
      assert.equal(alarm.inputs.threshold, 0);
      assert.equal(alarm.inputs.comparisonOperator, "GreaterThanThreshold");
      assert.equal(alarm.inputs.treatMissingData, "notBreaching");
      assert.deepEqual(alarm.inputs.alarmActions, [topicArn()]);
    }
  });

  it("alarms on API 5XX, stream consumers falling behind and anything in the dead-letter queue", () => {
    const alarms = ofType(resources, ALARM);
    const api = single(resources, "aws:apigateway/restApi:RestApi");
    const fiveXx = alarms.find((a) => a.inputs.metricName === "5XXError");
    assert.deepEqual(fiveXx?.inputs.dimensions, { ApiName: api.inputs.name, Stage: "dev" });
    assert.equal(api.inputs.name, JSON.parse(api.inputs.body).info.title);
    const iterator = alarms.filter((a) => a.inputs.metricName === "IteratorAge");
    assert.deepEqual(iterator.map((a) => a.inputs.dimensions.FunctionName).sort(), [
      "feature-flags-dev-fanout",
      "feature-flags-dev-snapshot",
    ]);
    for (const alarm of iterator) assert.equal(alarm.inputs.threshold, 60000);
    const dlqAlarms = alarms.filter((a) => a.inputs.namespace === "AWS/SQS");
    assert.deepEqual(
      dlqAlarms.map((a) => [a.inputs.metricName, a.inputs.dimensions.QueueName]).sort(),
      ofType(resources, "aws:sqs/queue:Queue")
        .map((q) => ["ApproximateNumberOfMessagesVisible", q.name])
        .sort(),
    );
    const freshness = alarms.find((a) => a.inputs.namespace === "AWS/Firehose");
    assert.equal(freshness?.inputs.metricName, "DeliveryToS3.DataFreshness");
    assert.equal(
      freshness?.inputs.dimensions.DeliveryStreamName,
      single(resources, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream").name,
    );
  });

  it("publishes to one topic encrypted with a key CloudWatch may use", () => {
    const topic = single(resources, "aws:sns/topic:Topic");
    const key = single(resources, "aws:kms/key:Key");
    assert.equal(topic.inputs.kmsMasterKeyId, `arn:aws:kms:eu-west-1:123456789012:key/${key.name}-id`);
    assert.equal(key.inputs.enableKeyRotation, true);
    const cloudwatch = JSON.parse(key.inputs.policy).Statement.find(
      (s: { Principal: { Service?: string } }) => s.Principal.Service === "cloudwatch.amazonaws.com",
    );
    assert.deepEqual(cloudwatch.Action, ["kms:Decrypt", "kms:GenerateDataKey*"]);
  });

  it("subscribes alarmEmail to the topic", () => {
    const subscription = single(resources, "aws:sns/topicSubscription:TopicSubscription");
    assert.equal(subscription.inputs.protocol, "email");
    assert.equal(subscription.inputs.endpoint, "oncall@example.com");
    assert.equal(subscription.inputs.topic, topicArn());
  });

  it("draws a dashboard of requests, latency p50/p99, 4xx/5xx, Lambda errors/throttles, iterator age, WebSocket traffic", () => {
    const body = JSON.parse(single(resources, "aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
    const metrics = body.widgets.flatMap((w: { properties: { metrics: unknown[][] } }) => w.properties.metrics);
    const has = (name: string, stat?: string) =>
      metrics.some(
        (m: unknown[]) => m.includes(name) && (stat === undefined || JSON.stringify(m.at(-1)).includes(stat)),
      );
    for (const [name, stat] of [
      ["Count"],
      ["Latency", "p50"],
      ["Latency", "p99"],
      ["4XXError"],
      ["5XXError"],
      ["Errors"],
      ["Throttles"],
      ["IteratorAge"],
      ["ConnectCount"],
      ["MessageCount"],
    ]) {
      assert.ok(has(name, stat), `${name} ${stat ?? ""}`);
    }
    for (const widget of body.widgets) assert.equal(widget.properties.region, "eu-west-1");
  });

  it("draws p50 and p99 latency per route group from each group's function Duration", () => {
    const body = JSON.parse(single(resources, "aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
    const durations = body.widgets
      .flatMap((w: { properties: { metrics: unknown[][] } }) => w.properties.metrics)
      .filter((m: unknown[]) => m[0] === "AWS/Lambda" && m[1] === "Duration") as [
      string,
      string,
      string,
      string,
      { stat: string; label: string },
    ][];
    const functionOf = (suffix: string) => single(resources, "aws:lambda/function:Function", suffix).name;
    for (const stat of ["p50", "p99"]) {
      const lines = durations.filter((m) => m[4].stat === stat);
      assert.deepEqual(
        Object.fromEntries(lines.map((m) => [m[4].label, m[3]])),
        {
          read: functionOf("-read"),
          write: functionOf("-write"),
          delete: functionOf("-delete"),
          ofrep: functionOf("-ofrep"),
          schedules: functionOf("-schedules"),
          authorizer: functionOf("-dev-authorizer"),
        },
        stat,
      );
    }
  });

  it("uses only API Gateway's free stage metrics: per-method detailed metrics (billed as custom metrics) are off", () => {
    const rest = single(resources, "aws:apigateway/methodSettings:MethodSettings").inputs.settings;
    assert.equal(rest.metricsEnabled, false);
    const ws = single(resources, "aws:apigatewayv2/stage:Stage").inputs.defaultRouteSettings;
    assert.ok(!ws.detailedMetricsEnabled, "WebSocket per-route metrics are off");
    // Every API Gateway metric the dashboard draws and the alarms watch has the stage's dimensions
    // only (ApiName or ApiId, and Stage): a Method, Resource or Route dimension needs detailed metrics.
    const body = JSON.parse(single(resources, "aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
    const drawn = body.widgets
      .flatMap((w: { properties: { metrics: unknown[][] } }) => w.properties.metrics)
      .filter((m: unknown[]) => m[0] === "AWS/ApiGateway")
      .map((m: unknown[]) => m.slice(2).filter((_, i, rest) => i % 2 === 0 && i < rest.length - 1));
    const watched = ofType(resources, ALARM)
      .filter((a) => a.inputs.namespace === "AWS/ApiGateway")
      .map((a) => Object.keys(a.inputs.dimensions));
    assert.ok(drawn.length >= 6 && watched.length >= 1);
    for (const dimensions of [...drawn, ...watched]) {
      assert.ok(
        ["ApiName,Stage", "ApiId,Stage"].includes(dimensions.join(",")),
        `an API Gateway metric with dimensions ${dimensions.join(", ")}`,
      );
    }
  });

  it("exports the topic as alarmTopicArn and adds no subscription without alarmEmail", async () => {
    const quiet = await runProgram();
    assert.deepEqual(ofType(quiet, "aws:sns/topicSubscription:TopicSubscription"), []);
  });
});
