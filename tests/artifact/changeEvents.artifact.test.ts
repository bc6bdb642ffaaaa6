import { strict as assert } from "node:assert";
import type { DynamoDBRecord, SQSRecord } from "aws-lambda";
import { streamRecordToAuditLine } from "../../handlers/audit/records";
import { materialize } from "../support/artifacts";
import { startArtifactHarness } from "../support/artifactHarness";
import { startFakeEventServices } from "../support/fakeEvents";
import { startFakeSsm } from "../support/fakeSsm";
import { ofType, runProgram } from "../support/pulumiMocks";
import { captureStreamRecords } from "../support/streamRecords";
import { TEST_TOKENS } from "../support/tokens";
import { newSecret, startWebhookReceiver } from "../support/webhooks";

type Handler = (event: unknown) => Promise<unknown>;
type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/** A queued message, as the deployed enrichment sent it to SQS, handed to the delivery function. */
function asSqsRecord(entry: Record<string, any>, receiveCount: number): SQSRecord {
  return {
    messageId: `m-${entry.MessageDeduplicationId}`,
    receiptHandle: `rh-${entry.MessageDeduplicationId}-${receiveCount}`,
    body: entry.MessageBody,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
      MessageGroupId: entry.MessageGroupId,
    },
    messageAttributes: Object.fromEntries(
      Object.entries<{ DataType: string; StringValue: string }>(entry.MessageAttributes).map(([name, value]) => [
        name,
        { dataType: value.DataType, stringValue: value.StringValue },
      ]),
    ),
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:webhooks.fifo",
    awsRegion: "eu-west-1",
  };
}

describe("Change events, the deployed code: stream records → EventBridge and SQS → signed POSTs", () => {
  let steady: Receiver;
  let flaky: Receiver;
  let services: Awaited<ReturnType<typeof startFakeEventServices>>;
  let ssm: Awaited<ReturnType<typeof startFakeSsm>>;
  let harness: Awaited<ReturnType<typeof startArtifactHarness>>;
  let enrich: Handler;
  let deliver: Handler;
  let records: DynamoDBRecord[];
  const savedEnv = { ...process.env };

  before(async function () {
    this.timeout(300_000);
    steady = await startWebhookReceiver(newSecret());
    // Refuses its first request, then accepts.
    flaky = await startWebhookReceiver(newSecret(), (n) => (n === 0 ? 500 : 200));
    const webhooks = JSON.stringify([steady.webhook, flaky.webhook]);
    const resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS), webhooks, eventBusName: "team-bus" });
    harness = await startArtifactHarness(resources);
    services = await startFakeEventServices();
    ssm = await startFakeSsm(new Map([["/feature-flags/dev/webhooks", webhooks]]));
    const artifact = async (suffix: string) =>
      materialize(
        ofType(resources, "aws:lambda/function:Function").find((fn) => fn.name.endsWith(suffix)) ??
          assert.fail(`no function ${suffix}`),
      );
    enrich = harness.load(await artifact("-change-publisher"), {
      AWS_ENDPOINT_URL_EVENTBRIDGE: services.endpoint,
      AWS_ENDPOINT_URL_SQS: services.endpoint,
    }) as Handler;
    deliver = harness.load(await artifact("-webhook-delivery"), {
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_ENDPOINT_URL_SQS: services.endpoint,
    }) as Handler;
    records = await captureStreamRecords(3, async (store) => {
      await store.create({ flagName: "ramp", value: 1 }, "admin");
      await store.update("ramp", { value: 10 }, "admin");
      await store.update("ramp", { value: 50 }, "ci-bot");
    });
  });

  after(async () => {
    process.env = savedEnv;
    await harness?.stop();
    for (const stop of [services?.stop, ssm?.stop, steady?.stop, flaky?.stop]) await stop?.();
  });

  it("puts each change on the configured bus as the contract's event and hands the records back unchanged", async () => {
    assert.deepEqual(await enrich(records), records);

    const entries = services.requests.filter((r) => r.operation === "PutEvents").flatMap((r) => r.body.Entries);
    assert.deepEqual(
      entries.map((e) => [e.EventBusName, e.Source, e.DetailType]),
      [
        ["team-bus", "feature-flags", "Flag Created"],
        ["team-bus", "feature-flags", "Flag Updated"],
        ["team-bus", "feature-flags", "Flag Updated"],
      ],
    );
    assert.deepEqual(
      entries.map((e) => JSON.parse(e.Detail)),
      records.map(streamRecordToAuditLine),
    );
  });

  it("delivers every change to both receivers, verified by standardwebhooks, in version order through a 500", async () => {
    const queued = services.requests.filter((r) => r.operation === "SendMessageBatch").flatMap((r) => r.body.Entries);
    assert.equal(queued.length, 6, "one message per change and webhook");
    // As SQS FIFO hands them out: in order within each group, a failed one again before the next.
    const groups = [...new Set(queued.map((entry) => entry.MessageGroupId as string))];
    assert.equal(groups.length, 2, "a group per webhook for the one flag");
    const delays: number[] = [];
    for (const group of groups) {
      for (const entry of queued.filter((e) => e.MessageGroupId === group)) {
        for (let receiveCount = 1; ; receiveCount++) {
          const before = services.requests.length;
          const result = (await deliver({ Records: [asSqsRecord(entry, receiveCount)] })) as {
            batchItemFailures: unknown[];
          };
          const visibility = services.requests.slice(before).filter((r) => r.operation === "ChangeMessageVisibility");
          delays.push(...visibility.map((r) => r.body.VisibilityTimeout as number));
          if (result.batchItemFailures.length === 0) break;
          assert.ok(receiveCount < 3, "delivered on the retry");
        }
      }
    }

    assert.deepEqual(delays, [15], "the one failure is retried after 15 s");
    for (const receiver of [steady, flaky]) {
      assert.ok(
        receiver.received.every((r) => r.verified),
        "every request verifies",
      );
      const accepted = receiver === flaky ? receiver.received.slice(1) : receiver.received;
      assert.deepEqual(
        accepted.map((r) => JSON.parse(r.body).version),
        [1, 2, 3],
      );
    }
    assert.equal(flaky.received[0].headers["webhook-id"], flaky.received[1].headers["webhook-id"], "same id on retry");
  });
});
