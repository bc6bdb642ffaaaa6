import { strict as assert } from "node:assert";
import type { DynamoDBRecord } from "aws-lambda";
import { type MaterializedArtifact, materialize } from "../support/artifacts";
import { startArtifactHarness } from "../support/artifactHarness";
import { toTokenRecords } from "../../handlers/auth/tokens";
import { issueStreamCredential } from "../../handlers/ofrep/streamCredential";
import { captureOutput } from "../support/capture";
import { ensureProgramSchedulesTable } from "../support/fakeScheduler";
import { runtimeErrorLine } from "../support/lambdaRuntime";
import { collectingResponseStream } from "../support/lambdaStreaming";
import { matchesFilter } from "../support/logFilter";
import { proxyEvent } from "../support/proxyEvents";
import { ofType, type RecordedResource, runProgram } from "../support/pulumiMocks";
import { startFakeEventServices } from "../support/fakeEvents";
import { startFakeSsm } from "../support/fakeSsm";
import { captureStreamRecords } from "../support/streamRecords";
import { deliveryRecord, newSecret, startWebhookReceiver, TEST_WEBHOOKS } from "../support/webhooks";
import { ADMIN_TOKEN, TEST_TOKENS } from "../support/tokens";

const FUNCTION = "aws:lambda/function:Function";
const FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter";
const PREFIX = "feature-flags-dev-";
/** Nothing listens here: every request to it fails, as when DynamoDB, SSM or API Gateway fail. */
const DEAD_ENDPOINT = "http://127.0.0.1:9";

type Invoke = (event: unknown) => Promise<unknown>;
interface Scenario {
  /** Expected client failures: each must leave no line the error filter counts. */
  clientFailures: Array<[string, (invoke: Invoke) => Promise<void>]>;
  /** A fault: which dependency fails, and the event that meets it. */
  fault: { env: Record<string, string>; event: unknown };
  /** Stand-ins the function needs beyond the harness's, for every run (fault.env still wins). */
  env?: Record<string, string>;
}

/** What one invocation leaves in the function's log group: its own lines, and the runtime's. */
interface Run {
  lines: string[];
  result?: unknown;
  error?: unknown;
}

describe("What reaches the alarms: client failures never match a function's error filter, faults do", () => {
  let resources: RecordedResource[];
  const artifacts = new Map<string, MaterializedArtifact>();
  let harness: Awaited<ReturnType<typeof startArtifactHarness>>;
  let streamRecord: DynamoDBRecord;
  const savedEnv = { ...process.env };
  const stops: Array<() => Promise<unknown>> = [];
  /** Change events' stand-ins: EventBridge and SQS, a refusing webhook receiver, SSM holding it. */
  let events: Awaited<ReturnType<typeof startFakeEventServices>>;
  let refusing: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let webhookSsm: Awaited<ReturnType<typeof startFakeSsm>>;

  before(async function () {
    this.timeout(300_000);
    resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS), webhooks: JSON.stringify(TEST_WEBHOOKS) });
    for (const fn of ofType(resources, FUNCTION)) artifacts.set(fn.name, await materialize(fn));
    harness = await startArtifactHarness(resources, { flags: ["exists"], gone: ["gone-1"] });
    // The runner reads the program's schedules table, which the harness does not make.
    await ensureProgramSchedulesTable(resources);
    [streamRecord] = await captureStreamRecords(1, (store) =>
      store.create({ flagName: "alarmed", value: true }, "admin").then(() => undefined),
    );
    events = await startFakeEventServices();
    refusing = await startWebhookReceiver(newSecret(), () => 500);
    webhookSsm = await startFakeSsm(new Map([["/feature-flags/dev/webhooks", JSON.stringify([refusing.webhook])]]));
    stops.push(events.stop, refusing.stop, webhookSsm.stop);
  });

  after(async () => {
    process.env = savedEnv;
    await harness?.stop();
    for (const stop of stops) await stop();
  });

  /** Runs one invocation the way Lambda would log it: handler lines, plus the runtime's line if it throws. */
  async function run(name: string, event: unknown, overrides: Record<string, string> = {}): Promise<Run> {
    const artifact = artifacts.get(name);
    assert.ok(artifact, name);
    // Client failures are logged at WARN: let them through, to show they are there and harmless.
    const handler = harness.load(artifact, { POWERTOOLS_LOG_LEVEL: "INFO", ...overrides });
    // A streaming function (the OFREP event stream) answers through the stream: its prelude's status.
    const response = collectingResponseStream();
    const { result: outcome, output } = await captureOutput(async () => {
      try {
        const returned = await handler(event, response.stream, {});
        return { result: returned ?? response.parts()?.prelude };
      } catch (error) {
        return { error };
      }
    });
    const lines = output.split("\n").filter((line) => line.trim() !== "");
    if ("error" in outcome) lines.push(runtimeErrorLine(outcome.error));
    return { lines, ...outcome };
  }

  const filterOf = (fn: RecordedResource, suffix: string) =>
    ofType(resources, FILTER).find(
      (f) => f.inputs.logGroupName === fn.inputs.loggingConfig.logGroup && f.name.endsWith(suffix),
    );
  const status = (expected: number) => async (result: Promise<unknown>) =>
    assert.equal(((await result) as { statusCode: number }).statusCode, expected);
  const get = (flagName: string) => proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName } });
  const authorizerEvent = (token: string) => ({
    type: "REQUEST",
    methodArn: "arn:aws:execute-api:eu-west-1:123456789012:api/dev/GET/flags",
    headers: { Authorization: `Bearer ${token}` },
    queryStringParameters: { token },
  });
  const insert = (connectionId: string) => ({
    Records: [
      {
        eventName: "INSERT",
        eventID: "1",
        dynamodb: { NewImage: { connectionId: { S: connectionId } }, SequenceNumber: "1" },
      },
    ],
  });
  const noDynamo = { AWS_ENDPOINT_URL_DYNAMODB: DEAD_ENDPOINT };
  // The tokens table is DynamoDB: a dead DynamoDB is what a failed token lookup meets.
  const noTokens = noDynamo;

  const scenarios: Record<string, () => Scenario> = {
    read: () => ({
      clientFailures: [
        ["404 for an unknown flag", async (invoke) => status(404)(invoke(get("missing")))],
        [
          "400 for a bad limit",
          async (invoke) =>
            status(400)(invoke(proxyEvent({ method: "GET", resource: "/flags", query: { limit: "x" } }))),
        ],
        [
          "404 for the history of a flag that never existed, 400 for a forged history cursor",
          async (invoke) => {
            const history = { method: "GET", resource: "/flags/{flagName}/history" };
            await status(404)(invoke(proxyEvent({ ...history, params: { flagName: "missing" } })));
            const query = { cursor: "forged" };
            await status(400)(invoke(proxyEvent({ ...history, params: { flagName: "exists" }, query })));
          },
        ],
      ],
      fault: { env: noDynamo, event: get("exists") },
    }),
    write: () => ({
      clientFailures: [
        [
          "400 for a body that is not JSON",
          async (invoke) => status(400)(invoke(proxyEvent({ method: "POST", resource: "/flags", body: "{" }))),
        ],
        [
          "409 for an existing name",
          async (invoke) =>
            status(409)(
              invoke(proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "exists", value: 2 } })),
            ),
        ],
        [
          "412 for a stale If-Match",
          async (invoke) =>
            status(412)(
              invoke(
                proxyEvent({
                  method: "PUT",
                  resource: "/flags/{flagName}",
                  params: { flagName: "exists" },
                  headers: { "If-Match": "99" },
                  body: { value: 3 },
                }),
              ),
            ),
        ],
        [
          "400 for a rollout of a flag without variants, 404 for an abort with no rollout",
          async (invoke) => {
            const rollout = { variant: "on", steps: [{ percent: 10 }] };
            await status(400)(
              invoke(
                proxyEvent({
                  method: "PUT",
                  resource: "/flags/{flagName}/rollout",
                  params: { flagName: "exists" },
                  body: rollout,
                }),
              ),
            );
            await status(404)(
              invoke(
                proxyEvent({
                  method: "POST",
                  resource: "/flags/{flagName}/rollout/abort",
                  params: { flagName: "exists" },
                }),
              ),
            );
          },
        ],
      ],
      fault: {
        env: noDynamo,
        event: proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "new", value: 1 } }),
      },
    }),
    flagset: () => {
      const put = (body: unknown, headers: Record<string, string> = {}) =>
        proxyEvent({ method: "PUT", resource: "/flagset", query: { dryRun: "true" }, headers, body });
      const valid = { flags: { exists: { state: "ENABLED", variants: { default: 1 }, defaultVariant: "default" } } };
      return {
        clientFailures: [
          [
            "400 for an invalid document",
            async (invoke) => status(400)(invoke(put({ flags: { bad: { state: "ON" } } }))),
          ],
          ["412 for a stale If-Match", async (invoke) => status(412)(invoke(put(valid, { "If-Match": '"999999"' })))],
        ],
        fault: { env: noDynamo, event: put(valid) },
      };
    },
    delete: () => ({
      clientFailures: [
        [
          "404 for an unknown flag",
          async (invoke) =>
            status(404)(
              invoke(proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "missing" } })),
            ),
        ],
      ],
      fault: {
        env: noDynamo,
        event: proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: "exists" } }),
      },
    }),
    ofrep: () => {
      const single = (key: string, body: unknown) =>
        proxyEvent({ method: "POST", resource: "/ofrep/v1/evaluate/flags/{key}", params: { key }, body });
      return {
        clientFailures: [
          [
            "404 FLAG_NOT_FOUND for an unknown flag",
            async (invoke) => status(404)(invoke(single("missing", { context: {} }))),
          ],
          ["400 for a body that is not JSON", async (invoke) => status(400)(invoke(single("exists", "{")))],
          [
            "400 for a context that is not an object",
            async (invoke) => status(400)(invoke(single("exists", { context: [1] }))),
          ],
        ],
        fault: { env: noDynamo, event: single("exists", { context: {} }) },
      };
    },
    events: () => {
      const connect = (query: Record<string, string>) =>
        proxyEvent({ method: "GET", resource: "/ofrep/v1/events", query, authorizer: null });
      const reader = toTokenRecords(TEST_TOKENS).find((record) => record.id === "reader");
      assert.ok(reader);
      return {
        clientFailures: [
          ["401 for a missing credential", async (invoke) => status(401)(invoke(connect({})))],
          [
            "401 for a forged credential",
            async (invoke) =>
              status(401)(invoke(connect({ c: `reader.${Math.floor(Date.now() / 1000) + 60}.${"A".repeat(43)}` }))),
          ],
        ],
        fault: { env: noTokens, event: connect({ c: issueStreamCredential(reader, Date.now()) }) },
      };
    },
    authorizer: () => ({
      clientFailures: [
        [
          "an unknown token (a Deny policy, API Gateway's 401)",
          async (invoke) => {
            const result = (await invoke(authorizerEvent("not-a-known-token-0123456789"))) as {
              policyDocument: { Statement: Array<{ Effect: string }> };
            };
            assert.equal(result.policyDocument.Statement[0].Effect, "Deny");
          },
        ],
      ],
      fault: { env: noTokens, event: authorizerEvent(ADMIN_TOKEN) },
    }),
    "ws-authorizer": () => ({
      clientFailures: [
        [
          "an unknown token (thrown Unauthorized: the handshake's 401)",
          async (invoke) =>
            assert.rejects(invoke(authorizerEvent("not-a-known-token-0123456789")), /^Error: Unauthorized$/),
        ],
      ],
      fault: { env: noTokens, event: authorizerEvent(ADMIN_TOKEN) },
    }),
    "ws-connect": () => ({
      clientFailures: [
        [
          "401 without an authorizer context",
          async (invoke) => status(401)(invoke({ requestContext: { connectionId: "c-1", routeKey: "$connect" } })),
        ],
      ],
      fault: {
        env: noDynamo,
        event: {
          requestContext: {
            connectionId: "c-1",
            routeKey: "$connect",
            authorizer: { tokenId: "reader", scopes: "read" },
          },
        },
      },
    }),
    "ws-disconnect": () => ({
      clientFailures: [
        [
          "a disconnect of an unknown connection",
          async (invoke) => status(200)(invoke({ requestContext: { connectionId: "never", routeKey: "$disconnect" } })),
        ],
      ],
      fault: { env: noDynamo, event: { requestContext: { connectionId: "c-1", routeKey: "$disconnect" } } },
    }),
    "ws-default": () => ({
      clientFailures: [
        [
          "a message other than sync",
          async (invoke) =>
            status(200)(invoke({ requestContext: { connectionId: "c-2", routeKey: "$default" }, body: "hello" })),
        ],
        [
          "a sync from a connection already gone",
          async (invoke) =>
            status(200)(
              invoke({ requestContext: { connectionId: "gone-1", routeKey: "$default" }, body: '{"action":"sync"}' }),
            ),
        ],
      ],
      fault: {
        env: noDynamo,
        event: { requestContext: { connectionId: "c-2", routeKey: "$default" }, body: '{"action":"sync"}' },
      },
    }),
    snapshot: () => ({
      clientFailures: [
        [
          "a new connection that is already gone",
          async (invoke) => assert.deepEqual(await invoke(insert("gone-1")), { batchItemFailures: [] }),
        ],
      ],
      fault: { env: noDynamo, event: insert("c-3") },
    }),
    fanout: () => ({
      clientFailures: [
        [
          "a change while a connection is gone",
          async (invoke) => assert.deepEqual(await invoke({ Records: [streamRecord] }), { batchItemFailures: [] }),
        ],
      ],
      fault: { env: noDynamo, event: { Records: [streamRecord] } },
    }),
    "fanout-worker": () => {
      const segment = {
        segment: 0,
        totalSegments: 1,
        messages: [JSON.stringify({ type: "flag.deleted", flagName: "alarmed", version: 1 })],
      };
      return {
        clientFailures: [
          [
            "a segment holding a connection that is gone",
            async (invoke) => {
              await harness.addConnections(["gone-1"]);
              assert.deepEqual(await invoke(segment), { sent: 0, gone: 1 });
            },
          ],
        ],
        // Thrown: the fan-out that invoked it fails the batch, which the stream retries.
        fault: { env: noDynamo, event: segment },
      };
    },
    schedules: () => {
      const create = (flagName: string, at: string) =>
        proxyEvent({
          method: "POST",
          resource: "/flags/{flagName}/schedules",
          params: { flagName },
          body: { at, change: { value: 2 } },
        });
      const soon = () => new Date(Date.now() + 3_600_000).toISOString();
      return {
        clientFailures: [
          [
            "400 for a time in the past",
            async (invoke) => status(400)(invoke(create("exists", "2020-01-01T00:00:00Z"))),
          ],
          ["404 for an unknown flag", async (invoke) => status(404)(invoke(create("missing", soon())))],
        ],
        fault: { env: noDynamo, event: create("exists", soon()) },
      };
    },
    "schedule-runner": () => ({
      clientFailures: [
        [
          "a schedule that is no longer there (cancelled with its flag, or never was)",
          async (invoke) =>
            assert.deepEqual(await invoke({ scheduleId: "00000000-0000-4000-8000-000000000000", flagName: "exists" }), {
              outcome: "skipped",
              reason: "no such schedule",
            }),
        ],
        [
          "a rollout step of a rollout that is not there (aborted, or its flag deleted)",
          async (invoke) =>
            assert.deepEqual(
              await invoke({ rolloutStep: { flagName: "exists", startedAt: "2026-12-06T00:00:00.000Z", step: 1 } }),
              { outcome: "skipped" },
            ),
        ],
        [
          "an alarm entering ALARM that guards no running rollout",
          async (invoke) =>
            assert.deepEqual(
              await invoke({
                source: "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change",
                detail: { alarmName: "unguarded", state: { value: "ALARM" } },
              }),
              { aborted: 0 },
            ),
        ],
      ],
      // Thrown: EventBridge Scheduler retries it, then dead-letters it.
      fault: { env: noDynamo, event: { scheduleId: "00000000-0000-4000-8000-000000000000", flagName: "exists" } },
    }),
    "audit-transform": () => ({
      clientFailures: [
        [
          "the deletedBy stamp before a delete (not an event: dropped)",
          async (invoke) => {
            const stamp = {
              ...streamRecord,
              eventName: "MODIFY",
              dynamodb: { ...streamRecord.dynamodb, OldImage: streamRecord.dynamodb?.NewImage },
            };
            const data = Buffer.from(JSON.stringify(stamp)).toString("base64");
            const result = (await invoke({ records: [{ recordId: "1", data, approximateArrivalTimestamp: 0 }] })) as {
              records: Array<{ result: string }>;
            };
            assert.equal(result.records[0].result, "Dropped");
          },
        ],
      ],
      // A record the processor cannot read: its data is lost to the audit trail, someone must look.
      fault: {
        env: {},
        event: {
          records: [
            { recordId: "1", data: Buffer.from("not json").toString("base64"), approximateArrivalTimestamp: 0 },
          ],
        },
      },
    }),
    "change-publisher": () => ({
      env: { AWS_ENDPOINT_URL_EVENTBRIDGE: events.endpoint, AWS_ENDPOINT_URL_SQS: events.endpoint },
      clientFailures: [
        [
          "a batch holding no change (a delete's stamp): nothing to put, nothing to queue",
          async (invoke) => {
            const stamp = {
              ...streamRecord,
              eventName: "MODIFY",
              dynamodb: { ...streamRecord.dynamodb, OldImage: streamRecord.dynamodb?.NewImage },
            };
            assert.deepEqual(await invoke([stamp]), [stamp]);
          },
        ],
      ],
      // EventBridge unreachable: the Pipe retries the batch, and someone must look.
      fault: { env: { AWS_ENDPOINT_URL_EVENTBRIDGE: DEAD_ENDPOINT }, event: [streamRecord] },
    }),
    "webhook-delivery": () => {
      const event = {
        Records: [deliveryRecord(refusing.url, "e1", JSON.stringify({ eventId: "e1" }), "g")],
      };
      return {
        env: { AWS_ENDPOINT_URL_SSM: webhookSsm.endpoint, AWS_ENDPOINT_URL_SQS: events.endpoint },
        clientFailures: [
          [
            "a receiver answering 500 (theirs to fix: retried later, the dead-letter queue's alarm if it lasts)",
            async (invoke) =>
              assert.deepEqual(await invoke(event), { batchItemFailures: [{ itemIdentifier: "m-e1" }] }),
          ],
        ],
        // The webhooks cannot be read (SSM down): this service's fault.
        fault: { env: { AWS_ENDPOINT_URL_SSM: DEAD_ENDPOINT }, event },
      };
    },
  };

  it("has a scenario for every function of the program (a new function needs one here)", () => {
    const missing = ofType(resources, FUNCTION)
      .map((fn) => fn.name.replace(PREFIX, ""))
      .filter((name) => scenarios[name] === undefined);
    assert.deepEqual(missing, []);
  });

  it("counts no line of any expected client failure, the runtime's own lines included", async () => {
    const counted: string[] = [];
    for (const fn of ofType(resources, FUNCTION)) {
      const scenario = scenarios[fn.name.replace(PREFIX, "")]?.();
      const filter = filterOf(fn, "-error-logs");
      assert.ok(scenario && filter, fn.name);
      for (const [what, drive] of scenario.clientFailures) {
        const lines: string[] = [];
        await drive(async (event) => {
          const outcome = await run(fn.name, event, scenario.env);
          lines.push(...outcome.lines);
          if ("error" in outcome) throw outcome.error;
          return outcome.result;
        });
        for (const line of lines.filter((l) => matchesFilter(filter.inputs.pattern, l))) {
          counted.push(`${fn.name} (${what}): ${line.slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(counted, [], "client failures that would page on-call");
  });

  it("counts a fault of every function, or parks it where an alarm watches (stream consumers)", async () => {
    const unseen: string[] = [];
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm");
    for (const fn of ofType(resources, FUNCTION)) {
      const scenario = scenarios[fn.name.replace(PREFIX, "")]?.();
      const filter = filterOf(fn, "-error-logs");
      assert.ok(scenario && filter, fn.name);
      const outcome = await run(fn.name, scenario.fault.event, { ...scenario.env, ...scenario.fault.env });
      if (outcome.lines.some((line) => matchesFilter(filter.inputs.pattern, line))) continue;
      // A stream consumer reports a failed record instead of logging: the mapping retries it, the
      // iterator-age alarm sees the delay and the dead-letter queue's alarm sees it given up on.
      const failed = (outcome.result as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures ?? [];
      const mapping = ofType(resources, "aws:lambda/eventSourceMapping:EventSourceMapping").find(
        (m) => m.inputs.functionName === fn.name,
      );
      const dlq = mapping?.inputs.destinationConfig?.onFailure?.destinationArn as string | undefined;
      const watched =
        failed.length > 0 &&
        alarms.some((a) => a.inputs.metricName === "IteratorAge" && a.inputs.dimensions?.FunctionName === fn.name) &&
        alarms.some((a) => a.inputs.namespace === "AWS/SQS" && dlq?.endsWith(`:${a.inputs.dimensions?.QueueName}`));
      if (!watched) unseen.push(`${fn.name}: ${outcome.lines.join(" | ").slice(0, 300) || "no line"}`);
    }
    assert.deepEqual(unseen, [], "faults no alarm would see");
  });

  it("discounts exactly the WebSocket authorizer's deliberate Unauthorized from its Errors alarm", async () => {
    const fn = ofType(resources, FUNCTION).find((f) => f.name === `${PREFIX}ws-authorizer`);
    assert.ok(fn);
    const expected = filterOf(fn, "-expected-errors");
    assert.ok(expected, "a filter counting the deliberate refusals");
    const refused = await run(fn.name, authorizerEvent("not-a-known-token-0123456789"));
    const fault = await run(fn.name, authorizerEvent(ADMIN_TOKEN), noTokens);
    assert.equal(refused.lines.filter((l) => matchesFilter(expected.inputs.pattern, l)).length, 1);
    assert.equal(
      fault.lines.filter((l) => matchesFilter(expected.inputs.pattern, l)).length,
      0,
      "a real fault is not discounted",
    );
    const alarm = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find((a) =>
      (a.inputs.metricQueries ?? []).some(
        (q: { metric?: { metricName: string } }) => q.metric?.metricName === expected.inputs.metricTransformation.name,
      ),
    );
    assert.ok(alarm, "the Errors alarm subtracts the counted refusals");
  });
});
