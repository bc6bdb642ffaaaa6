import { strict as assert } from "node:assert";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { toTokenRecords } from "../../handlers/auth/tokens";
import { issueStreamCredential } from "../../handlers/ofrep/streamCredential";
import { materialize } from "../support/artifacts";
import { startArtifactHarness } from "../support/artifactHarness";
import { recordedInvocations, type WireCall } from "../support/awsCalls";
import { collectingResponseStream } from "../support/lambdaStreaming";
import { grantedActions, roleArn, roleNamed, roleStatements, simulate, toIamRequests } from "../support/iam";
import { proxyEvent } from "../support/proxyEvents";
import { ACCOUNT, ofType, REGION, type RecordedResource, runProgram } from "../support/pulumiMocks";
import { logsFirehoseData, restAccessLogLine, restRequest } from "../support/accessLogEvents";
import { type ServiceCall, serviceCalls } from "../support/serviceCalls";
import { startFakeEventServices } from "../support/fakeEvents";
import { startFakeSsm } from "../support/fakeSsm";
import { ensureProgramSchedulesTable, startFakeScheduler } from "../support/fakeScheduler";
import { captureStreamRecords } from "../support/streamRecords";
import { deliveryRecord, newSecret, startWebhookReceiver, TEST_WEBHOOKS } from "../support/webhooks";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";

const FUNCTION = "aws:lambda/function:Function";
const PREFIX = "feature-flags-dev-";
/** A flag whose schedule EventBridge Scheduler's stand-in refuses to create. */
const UNARMABLE = "ruled";
const NO_SUCH_SCHEDULE = "00000000-0000-4000-8000-000000000000";

/**
 * Granted actions that no recorded or declared call exercises, each with why it stays. The test
 * fails on a grant missing from here, and on an entry here that is no longer needed.
 */
const UNEXERCISED_GRANTS: Record<string, Record<string, string>> = {
  "audit-pipe": {
    "firehose:PutRecord":
      "AWS's execution-role permissions for a Pipe with a Firehose target name PutRecord and PutRecordBatch; which one a pipe sends per batch is not documented",
  },
};

/** Invokes a function; a streaming one also takes the response stream (and a context). */
type Invoke = (event: unknown, ...streaming: unknown[]) => Promise<unknown>;
/** Drives a function; `reload` loads its artifact again with environment overrides. */
type Driver = (invoke: Invoke, reload: (overrides: Record<string, string>) => Invoke) => Promise<void>;

describe("Wiring on AWS: every call the deployed service makes is allowed by IAM (iam-simulate)", () => {
  let resources: RecordedResource[];
  const calls: WireCall[] = [];
  const driven = new Map<string, number>();
  const missingDrivers: string[] = [];
  const failures: string[] = [];
  const savedEnv = { ...process.env };
  const stops: Array<() => Promise<unknown>> = [];
  let stopScheduler: (() => Promise<unknown>) | undefined;

  before(async function () {
    this.timeout(300_000);
    resources = await runProgram({
      apiTokens: JSON.stringify(TEST_TOKENS),
      createConfigRecorder: "true",
      webhooks: JSON.stringify(TEST_WEBHOOKS),
    });
    const harness = await startArtifactHarness(resources, {
      connections: ["live-1", "gone-1"],
      gone: ["gone-1", "gone-2", "gone-3", "gone-4"],
    });
    // EventBridge Scheduler's stand-in (it refuses schedules of UNARMABLE), and the schedules table.
    const scheduler = await startFakeScheduler({ refuseFlag: UNARMABLE });
    stopScheduler = scheduler.stop;
    process.env.AWS_ENDPOINT_URL_SCHEDULER = scheduler.endpoint;
    await ensureProgramSchedulesTable(resources);
    const scheduled = { toApply: "", toCancel: "", toCancelOnDelete: "" };
    // Real stream records: a create, for the fan-out and the audit processor.
    const [created] = await captureStreamRecords(1, (store) =>
      store.create({ flagName: "wired", value: true }, "admin").then(() => undefined),
    );
    // And an evaluator's creation on the evaluators stream, for the fan-out's evaluators.updated:
    // "eu", which the write driver creates in the harness's table before the fan-out reads it
    // (the fan-out refuses a read older than the records it announces).
    const evaluatorRecords = await captureStreamRecords(
      2,
      (_flags, evaluators) => evaluators.put("eu", { "==": [{ var: "country" }, "de"] }, "admin").then(() => undefined),
      "evaluators",
    );
    const evaluatorCreated = evaluatorRecords.find((r) => r.dynamodb?.Keys?.name?.S === "eu");
    assert.ok(evaluatorCreated, "the evaluator's INSERT was captured");
    // EventBridge and SQS stand-ins, and a receiver the delivery function reads from "SSM".
    const eventServices = await startFakeEventServices();
    const receiver = await startWebhookReceiver(newSecret(), (n) => (n === 0 ? 204 : 500));
    const webhookSsm = await startFakeSsm(
      new Map([["/feature-flags/dev/webhooks", JSON.stringify([receiver.webhook])]]),
    );
    stops.push(eventServices.stop, receiver.stop, webhookSsm.stop);
    const ok = (expected: number) => async (result: Promise<unknown>) =>
      assert.equal(((await result) as { statusCode: number }).statusCode, expected);
    const connectionInsert = (connectionId: string): DynamoDBRecord => ({
      eventName: "INSERT",
      eventID: connectionId,
      dynamodb: { NewImage: marshall({ connectionId, tokenId: "reader" }) as never, SequenceNumber: "1" },
    });
    // What each function is driven through: every route and consumer path that makes a call.
    const drivers: Record<string, Driver> = {
      authorizer: async (invoke) => {
        const event = {
          type: "REQUEST",
          methodArn: "arn:aws:execute-api:eu-west-1:123456789012:api/dev/GET/flags",
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        };
        assert.equal(((await invoke(event)) as { principalId: string }).principalId, "admin");
      },
      "ws-authorizer": async (invoke) => {
        const event = {
          type: "REQUEST",
          methodArn: "arn:aws:execute-api:eu-west-1:123456789012:ws/dev/$connect",
          queryStringParameters: { token: READ_TOKEN },
        };
        assert.equal(((await invoke(event)) as { principalId: string }).principalId, "reader");
      },
      write: async (invoke) => {
        const evaluator = (name: string) => ({ method: "PUT", resource: "/evaluators/{name}", params: { name } });
        await ok(201)(
          invoke(proxyEvent({ ...evaluator("eu"), body: { expression: { in: [{ var: "country" }, ["de", "fr"]] } } })),
        );
        await ok(201)(invoke(proxyEvent({ ...evaluator("spare"), body: { expression: { "==": [1, 1] } } })));
        const replace = { ...evaluator("spare"), body: { expression: { "==": [1, 2] } } };
        await ok(200)(invoke(proxyEvent({ ...replace, headers: { "If-Match": "1" } })));
        await ok(412)(invoke(proxyEvent({ ...replace, headers: { "If-Match": "1" } })));
        await ok(204)(
          invoke(proxyEvent({ method: "DELETE", resource: "/evaluators/{name}", params: { name: "spare" } })),
        );
        await ok(201)(
          invoke(proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "wired", value: 1 } })),
        );
        // A rich flag that takes a reference on the evaluator, then gives it back.
        const rich = {
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: { if: [{ $ref: "eu" }, "on", "off"] },
        };
        await ok(201)(invoke(proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "ruled", ...rich } })));
        const put = { method: "PUT", resource: "/flags/{flagName}", params: { flagName: "wired" }, body: { value: 2 } };
        await ok(200)(invoke(proxyEvent(put)));
        // Rollouts: started (the flag's transaction with the rollout's Put, CreateSchedule of the
        // next step passing the target role), aborted (Update, DeleteSchedule), started again; and
        // one on "ruled", which its deletion ends.
        const ramp = {
          variant: "on",
          steps: [{ percent: 10, holdSeconds: 60 }, { percent: 50, holdSeconds: 60 }, { percent: 100 }],
        };
        await ok(201)(
          invoke(proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "ramped", ...rich } })),
        );
        const rollout = (flagName: string, guard: string) =>
          invoke(
            proxyEvent({
              method: "PUT",
              resource: "/flags/{flagName}/rollout",
              params: { flagName },
              body: { ...ramp, guard: { alarms: [guard] } },
            }),
          );
        await ok(201)(rollout("ramped", "ramped-5xx"));
        await ok(200)(
          invoke(
            proxyEvent({ method: "POST", resource: "/flags/{flagName}/rollout/abort", params: { flagName: "ramped" } }),
          ),
        );
        await ok(201)(rollout("ramped", "ramped-5xx"));
        await ok(201)(rollout("ruled", "ruled-5xx"));
      },
      schedules: async (invoke) => {
        const at = new Date(Date.now() + 3_600_000).toISOString();
        const create = async (flagName: string, expected: number) => {
          const event = proxyEvent({
            method: "POST",
            resource: "/flags/{flagName}/schedules",
            params: { flagName },
            body: { at, change: { value: 3 } },
          });
          const result = (await invoke(event)) as { statusCode: number; body: string };
          assert.equal(result.statusCode, expected, result.body);
          return (JSON.parse(result.body) as { id: string }).id;
        };
        // Created (PutItem, CreateSchedule passing the target role); one EventBridge refuses is
        // taken back (DeleteItem).
        scheduled.toApply = await create("wired", 201);
        scheduled.toCancel = await create("wired", 201);
        scheduled.toCancelOnDelete = await create("wired", 201);
        await create(UNARMABLE, 500);
      },
      "schedule-runner": async (invoke) => {
        // As EventBridge Scheduler invokes it: the schedule, then the flag's update transaction.
        const context = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${PREFIX}schedule-runner` };
        assert.deepEqual(await invoke({ scheduleId: scheduled.toApply, flagName: "wired" }, context), {
          outcome: "applied",
          version: 3,
        });
        // A rollout's next step, as its EventBridge schedule gives it: the step's transaction, and
        // the step after armed with the runner itself as the target (its ARN from the context).
        const step = [...scheduler.held.values()]
          .map((held) => JSON.parse(held.body.Target.Input) as { rolloutStep?: { flagName: string } })
          .find((input) => input.rolloutStep?.flagName === "ramped");
        assert.ok(step, "the ramped flag's next step is armed");
        assert.deepEqual(await invoke(step, context), { outcome: "stepped" });
        const armed = [...scheduler.held.values()].map((held) => held.body.Target.Arn as string);
        assert.ok(armed.includes(context.invokedFunctionArn), "the next step targets the runner");
        // CloudWatch's alarm state change, through the guard rule: the running rollouts that alarm
        // guards (a Scan) are aborted (the flag's transaction, DeleteSchedule of the next step).
        const alarm = (alarmName: string) => ({
          source: "aws.cloudwatch",
          "detail-type": "CloudWatch Alarm State Change",
          detail: { alarmName, state: { value: "ALARM" } },
        });
        assert.deepEqual(await invoke(alarm("ramped-5xx"), context), { aborted: 1 });
        assert.deepEqual(await invoke(alarm("unrelated"), context), { aborted: 0 });
      },
      read: async (invoke) => {
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/flags" })));
        await ok(200)(
          invoke(proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "wired" } })),
        );
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/health", authorizer: null })));
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/evaluators" })));
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/evaluators/{name}", params: { name: "eu" } })));
        // An evaluator's history (Query), readable after its delete; one that never existed: GetItem.
        const evaluatorHistory = (name: string) =>
          invoke(proxyEvent({ method: "GET", resource: "/evaluators/{name}/history", params: { name } }));
        await ok(200)(evaluatorHistory("spare"));
        await ok(404)(evaluatorHistory("never-was"));
        // A flag's history (Query); a name that never existed is told apart by the flag itself (GetItem).
        const history = (flagName: string) =>
          invoke(proxyEvent({ method: "GET", resource: "/flags/{flagName}/history", params: { flagName } }));
        await ok(200)(history("wired"));
        await ok(404)(history("never-was"));
        // A flag's schedules (Query), one of them (GetItem); an unknown one of a flag that never was.
        const schedules = (flagName: string, id?: string) =>
          invoke(
            proxyEvent(
              id === undefined
                ? { method: "GET", resource: "/flags/{flagName}/schedules", params: { flagName } }
                : { method: "GET", resource: "/flags/{flagName}/schedules/{id}", params: { flagName, id } },
            ),
          );
        await ok(200)(schedules("wired"));
        await ok(200)(schedules("wired", scheduled.toApply));
        await ok(404)(schedules("never-was", NO_SUCH_SCHEDULE));
        // A flag's rollout (GetItem); none: is the flag there (GetItem)?
        const rollout = (flagName: string) =>
          invoke(proxyEvent({ method: "GET", resource: "/flags/{flagName}/rollout", params: { flagName } }));
        await ok(200)(rollout("ramped"));
        await ok(404)(rollout("wired"));
        // The flag set as one flagd document: the version item (GetItem), both tables scanned.
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/flagset" })));
      },
      ofrep: async (invoke) => {
        const context = { targetingKey: "user-1" };
        const single = { method: "POST", resource: "/ofrep/v1/evaluate/flags/{key}", params: { key: "ruled" } };
        await ok(200)(invoke(proxyEvent({ ...single, body: { context } })));
        // Bulk: signs the caller's event-stream credential with its token record (Query of the byId index).
        await ok(200)(invoke(proxyEvent({ method: "POST", resource: "/ofrep/v1/evaluate/flags", body: { context } })));
      },
      events: async (invoke) => {
        // A stream: the credential's token record (Query of the byId index), the flag-set version, both tables scanned.
        const reader = toTokenRecords(TEST_TOKENS).find((r) => r.id === "reader");
        assert.ok(reader);
        const response = collectingResponseStream();
        const query = { c: issueStreamCredential(reader, Date.now()), v: "stale" };
        const running = invoke(
          proxyEvent({ method: "GET", resource: "/ofrep/v1/events", query, authorizer: null }),
          response.stream,
          {},
        );
        await response.until((body) => body.includes("refetchEvaluation"));
        response.disconnect();
        await running;
      },
      "ws-connect": async (invoke) => {
        const event = {
          requestContext: {
            connectionId: "new-1",
            routeKey: "$connect",
            authorizer: { tokenId: "reader", scopes: "read" },
          },
        };
        await ok(200)(invoke(event));
      },
      "ws-disconnect": async (invoke) => {
        await ok(200)(invoke({ requestContext: { connectionId: "new-1", routeKey: "$disconnect" } }));
      },
      "ws-default": async (invoke) => {
        // A sync from a connection API Gateway reports gone: scan flags and evaluators, post, remove.
        const event = { requestContext: { connectionId: "gone-2", routeKey: "$default" }, body: '{"action":"sync"}' };
        await ok(200)(invoke(event));
      },
      snapshot: async (invoke) => {
        const result = await invoke({ Records: [connectionInsert("live-1"), connectionInsert("gone-3")] });
        assert.deepEqual(result, { batchItemFailures: [] });
      },
      fanout: async (invoke, reload) => {
        assert.deepEqual(await invoke({ Records: [created] }), { batchItemFailures: [] });
        // From the evaluators stream: scans the evaluators and broadcasts evaluators.updated.
        assert.deepEqual(await invoke({ Records: [evaluatorCreated] }), { batchItemFailures: [] });
        // Past one invocation's share of posts: DescribeTable, then the worker at the ARN it is given.
        const accepted = harness.lambda.accepted.length;
        const scaledOut = reload({ FANOUT_POSTS_PER_INVOCATION: "1" });
        assert.deepEqual(await scaledOut({ Records: [created] }), { batchItemFailures: [] });
        assert.ok(harness.lambda.accepted.length > accepted, "the fan-out started no worker");
      },
      "fanout-worker": async (invoke) => {
        const message = JSON.stringify({ type: "flag.deleted", flagName: "wired", version: 9 });
        // One segment of two, then the other: every connection, the gone one deleted.
        await harness.addConnections(["gone-4"]);
        for (const segment of [0, 1]) await invoke({ segment, totalSegments: 2, messages: [message] });
      },
      "audit-transform": async (invoke) => {
        // A flag's and an evaluator's change: both Pipes feed this one processor.
        const records = [created, evaluatorCreated].map((record, i) => ({
          recordId: String(i),
          data: Buffer.from(JSON.stringify(record)).toString("base64"),
          approximateArrivalTimestamp: 0,
        }));
        // And the access logs' subscription: a CloudWatch Logs payload of one read and a listing.
        records.push({
          recordId: "logs",
          data: logsFirehoseData([
            restAccessLogLine(restRequest("GET", "/flags/{flagName}", "/flags/wired", 200)),
            restAccessLogLine(restRequest("GET", "/flags", "/flags", 200)),
          ]),
          approximateArrivalTimestamp: 0,
        });
        const result = (await invoke({ records })) as { records: Array<{ result: string; data: string }> };
        assert.deepEqual(
          result.records.map((r) => r.result),
          ["Ok", "Ok", "Ok"],
        );
        const reads = Buffer.from(result.records[2].data, "base64").toString("utf8").trimEnd().split("\n");
        assert.deepEqual(
          reads.map((line) => JSON.parse(line)).map((l) => [l.eventName, l.flagName, l.actor, l.version]),
          [["read", "wired", "reader", null]],
        );
      },
      "change-publisher": async (_invoke, reload) => {
        // As the audit Pipes' enrichment: a flag's and an evaluator's change, handed back unchanged.
        const enrich = reload({
          AWS_ENDPOINT_URL_EVENTBRIDGE: eventServices.endpoint,
          AWS_ENDPOINT_URL_SQS: eventServices.endpoint,
        });
        const records = [created, evaluatorCreated];
        assert.deepEqual(await enrich(records), records);
        const operations = eventServices.requests.map((r) => r.operation);
        assert.ok(operations.includes("PutEvents") && operations.includes("SendMessageBatch"), operations.join());
      },
      "webhook-delivery": async (_invoke, reload) => {
        // The webhooks from SSM (decrypted); a delivery accepted, then one refused and delayed.
        const deliver = reload({
          AWS_ENDPOINT_URL_SSM: webhookSsm.endpoint,
          AWS_ENDPOINT_URL_SQS: eventServices.endpoint,
        });
        const record = (id: string) => deliveryRecord(receiver.url, id, JSON.stringify({ eventId: id }), "g");
        assert.deepEqual(await deliver({ Records: [record("e1")] }), { batchItemFailures: [] });
        assert.deepEqual(await deliver({ Records: [record("e2")] }), {
          batchItemFailures: [{ itemIdentifier: "m-e2" }],
        });
        assert.ok(receiver.received.every((r) => r.verified));
      },
      // Last: the flags go, after every other function has used them (the rich one releases its evaluator).
      delete: async (invoke) => {
        // The deletion switch, read as DELETE reads it (ssm:GetParameter).
        await ok(200)(invoke(proxyEvent({ method: "GET", resource: "/settings" })));
        // A schedule cancelled (UpdateItem, DeleteSchedule); an unknown one (GetItem: is the flag there?).
        const cancel = (id: string) =>
          invoke(
            proxyEvent({
              method: "DELETE",
              resource: "/flags/{flagName}/schedules/{id}",
              params: { flagName: "wired", id },
            }),
          );
        await ok(204)(cancel(scheduled.toCancel));
        await ok(404)(cancel(NO_SUCH_SCHEDULE));
        assert.deepEqual(
          scheduler.deleted.filter((name) => !name.startsWith("rollout-")),
          [scheduled.toCancel],
        );
        const ruledStep = [...scheduler.held.values()].find(
          (held) =>
            (JSON.parse(held.body.Target.Input) as { rolloutStep?: { flagName: string } }).rolloutStep?.flagName ===
            "ruled",
        )?.name;
        for (const flagName of ["wired", "ruled"]) {
          await ok(204)(invoke(proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName } })));
        }
        // Deleting "wired" cancelled its pending schedule (Query, UpdateItem) and deleted its EventBridge schedule.
        assert.ok(scheduler.deleted.includes(scheduled.toCancelOnDelete), "the deleted flag's schedule is gone");
        // Deleting "ruled" ended its running rollout (GetItem, UpdateItem) and deleted its next step's schedule.
        assert.ok(
          ruledStep !== undefined && scheduler.deleted.includes(ruledStep),
          "the deleted flag's rollout step is gone",
        );
      },
      // After the deletes: an import. The set read (its version's GetItem, both tables scanned);
      // a flag and an evaluator replaced (their transactions: the flag gives back its reference).
      // Then with prune: a flag and an evaluator created, the remaining flag and evaluator deleted
      // (the deletion switch read first), the deleted flag's pending schedule cancelled (Query,
      // UpdateItem, DeleteSchedule) and its rollout looked up (GetItem; it was aborted).
      flagset: async (invoke) => {
        const put = (query: Record<string, string>, body: unknown) =>
          invoke(proxyEvent({ method: "PUT", resource: "/flagset", query, body }));
        const plain = (value: unknown) => ({
          state: "ENABLED",
          variants: { default: value },
          defaultVariant: "default",
        });
        const summary = async (result: Promise<unknown>) => {
          const response = (await result) as { statusCode: number; body: string };
          assert.equal(response.statusCode, 200, response.body);
          return JSON.parse(response.body) as { flags: Record<string, unknown>; evaluators: Record<string, unknown> };
        };
        const first = await summary(
          put({}, { flags: { ramped: plain(7) }, $evaluators: { eu: { in: [{ var: "country" }, ["de", "at"]] } } }),
        );
        assert.deepEqual([first.flags.updated, first.evaluators.updated], [["ramped"], ["eu"]]);
        await harness.addPendingSchedule("ramped", "11111111-1111-4111-8111-111111111111");
        const pruned = await summary(
          put({ prune: "true" }, { flags: { imported: plain(1) }, $evaluators: { "set-made": { "==": [1, 1] } } }),
        );
        assert.deepEqual(
          [pruned.flags.created, pruned.flags.deleted, pruned.evaluators.created, pruned.evaluators.deleted],
          [["imported"], ["ramped"], ["set-made"], ["eu"]],
        );
      },
    };
    const order = Object.keys(drivers);
    const functions = ofType(resources, FUNCTION).sort(
      (a, b) => order.indexOf(a.name.replace(PREFIX, "")) - order.indexOf(b.name.replace(PREFIX, "")),
    );
    const before = recordedInvocations().length;
    try {
      for (const fn of functions) {
        const driver = drivers[fn.name.replace(PREFIX, "")];
        if (driver === undefined) {
          missingDrivers.push(fn.name);
          continue;
        }
        const artifact = await materialize(fn);
        const handler = harness.load(artifact);
        // A denied call fails the invocation (loadHandler); keep going so every function reports.
        await driver(handler, (overrides) => harness.load(artifact, overrides)).catch((error: Error) =>
          failures.push(`${fn.name}: ${error.message}`),
        );
      }
    } finally {
      await harness.stop();
      for (const stop of stops) await stop();
    }
    for (const invocation of recordedInvocations().slice(before)) {
      driven.set(invocation.functionName, (driven.get(invocation.functionName) ?? 0) + 1);
      calls.push(...invocation.calls);
    }
  });

  after(async () => {
    process.env = savedEnv;
    await stopScheduler?.();
  });

  it("drives the artifact of every function in the program (a new function needs a driver here)", () => {
    assert.deepEqual(missingDrivers, [], "functions without a driver in tests/artifact/wiring.artifact.test.ts");
    assert.deepEqual(failures, [], "drivers that failed (a call IAM would deny is named here)");
    for (const fn of ofType(resources, FUNCTION)) {
      assert.ok((driven.get(fn.name) ?? 0) > 0, `${fn.name} was never invoked`);
      const grants = grantedActions(roleStatements(resources, roleNamed(resources, fn.inputs.role))).filter(
        (action) => !action.startsWith("logs:") && !action.startsWith("xray:"),
      );
      const made = calls.filter((call) => call.functionName === fn.name);
      // A function granted calls but seen making none was not driven through its real paths.
      if (grants.length > 0) assert.ok(made.length > 0, `${fn.name} is granted ${grants.join(", ")} but made no call`);
    }
  });

  it("has the snapshot senders and the fan-out read the shared evaluators (snapshots, evaluators.updated)", () => {
    for (const fn of ["ws-default", "snapshot", "fanout"]) {
      const scans = calls
        .filter((call) => call.functionName === `${PREFIX}${fn}`)
        .flatMap((call) => toIamRequests(call))
        .filter((r) => r.action === "dynamodb:Scan" && r.resource.endsWith("-evaluators"));
      assert.ok(scans.length > 0, `${fn} scanned no evaluators table`);
    }
  });

  it("has the fan-out invoke its worker, and wait for it, at the worker's ARN", () => {
    const worker = ofType(resources, FUNCTION).find((fn) => fn.name === `${PREFIX}fanout-worker`);
    assert.ok(worker);
    const invokes = calls.filter((call) => call.functionName === `${PREFIX}fanout` && /\/invocations$/.test(call.url));
    assert.ok(invokes.length >= 2, "a scaled-out fan-out starts at least two workers");
    for (const call of invokes) {
      assert.equal(call.headers["x-amz-invocation-type"], "RequestResponse");
      assert.deepEqual(
        toIamRequests(call).map((r) => [r.action, r.resource]),
        [["lambda:InvokeFunction", `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${worker.name}`]],
      );
    }
  });

  it("allows every AWS request each function sent, under its own role", async () => {
    const denied: string[] = [];
    for (const call of calls) {
      const fn = ofType(resources, FUNCTION).find((f) => f.name === call.functionName);
      assert.ok(fn, call.functionName);
      const role = roleNamed(resources, fn.inputs.role);
      for (const { action, resource, context } of toIamRequests(call)) {
        const decision = await simulate(
          { principal: roleArn(role.name), action, resource, context },
          { identity: roleStatements(resources, role) },
        );
        if (decision !== "Allowed") denied.push(`${call.functionName} may not ${action} on ${resource}: ${decision}`);
      }
    }
    assert.deepEqual(denied, []);
  });

  it("allows what AWS services do for the program, and refuses what they must not", async () => {
    const wrong: string[] = [];
    for (const call of serviceCalls(resources)) {
      const decision = await simulate(call.request, { identity: call.identity, resource: call.resource });
      if ((decision === "Allowed") !== call.allowed) {
        wrong.push(`${call.what}: ${call.request.action} on ${call.request.resource} is ${decision}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("grants no action that neither a recorded nor a declared call uses (least privilege, the other way)", () => {
    const declared: ServiceCall[] = serviceCalls(resources).filter((c) => c.allowed);
    const unused: string[] = [];
    const stale: string[] = [];
    for (const role of ofType(resources, "aws:iam/role:Role")) {
      const principal = roleArn(role.name);
      const functionsOfRole = ofType(resources, FUNCTION)
        .filter((fn) => fn.inputs.role === principal)
        .map((fn) => fn.name);
      const used = new Set([
        ...calls
          .filter((c) => functionsOfRole.includes(c.functionName))
          .flatMap((c) => toIamRequests(c).map((r) => r.action)),
        ...declared.filter((c) => c.request.principal === principal).map((c) => c.request.action),
      ]);
      const reasons = UNEXERCISED_GRANTS[role.name.replace(PREFIX, "")] ?? {};
      for (const action of grantedActions(roleStatements(resources, role))) {
        if (!used.has(action) && reasons[action] === undefined) unused.push(`${role.name}: ${action}`);
      }
      for (const action of Object.keys(reasons)) if (used.has(action)) stale.push(`${role.name}: ${action}`);
    }
    assert.deepEqual(unused, [], "granted but never used: remove the grant, or list it with its reason");
    assert.deepEqual(stale, [], "listed as unexercised but used: drop the entry");
  });
});
