import { strict as assert } from "node:assert";
import type { DynamoDBRecord } from "aws-lambda";
import { Webhook } from "standardwebhooks";
import { streamRecordToAuditLine } from "../../handlers/audit/records";
import { deliverWebhook } from "../../handlers/events/deliver";
import { makeWebhookDeliveryHandler } from "../../handlers/events/delivery";
import { changeEventPattern, deliveryGroupOf, parseWebhooks, webhookId } from "../../handlers/events/model";
import {
  type ChangeEvent,
  makeChangeEventsHandler,
  makeDeliveryEnqueuer,
  makeEventBusPublisher,
  type QueuedDelivery,
} from "../../handlers/events/publish";
import { LOCAL_RETRY_DELAYS_MS, MAX_RECEIVES, retryDelaySeconds, retrySpanSeconds } from "../../handlers/events/retry";
import { captureStreamRecords } from "../support/streamRecords";
import { deliveryRecord, newSecret, startWebhookReceiver } from "../support/webhooks";

const silent = { warn: () => undefined, error: () => undefined };

/** Runs the enrichment over `records`, collecting what it publishes and queues. */
async function enrich(records: DynamoDBRecord[], webhooks: string[] = []) {
  const events: ChangeEvent[] = [];
  const deliveries: QueuedDelivery[] = [];
  const handler = makeChangeEventsHandler({
    webhooks,
    publish: async (batch) => void events.push(...batch),
    enqueue: async (batch) => void deliveries.push(...batch),
  });
  const returned = await handler(records);
  return { returned, events, deliveries };
}

describe("change events: the audit Pipes' enrichment", () => {
  let flagRecords: DynamoDBRecord[];
  let evaluatorRecords: DynamoDBRecord[];

  before(async () => {
    // A create, an update, a delete (its deletedBy stamp, then the REMOVE).
    flagRecords = await captureStreamRecords(4, async (store) => {
      await store.create({ flagName: "checkout", value: 1 }, "admin");
      await store.update("checkout", { value: 2 }, "admin");
      await store.remove("checkout", "admin");
    });
    evaluatorRecords = await captureStreamRecords(
      6,
      async (_flags, evaluators) => {
        await evaluators.put("eu", { "==": [{ var: "country" }, "de"] }, "admin");
        await evaluators.put("eu", { "==": [{ var: "country" }, "fr"] }, "admin");
        await evaluators.remove("eu", "admin");
      },
      "evaluators",
    );
  });

  it("puts each flag change on the bus once, in order, with the contract's source, detail-type and detail", async () => {
    const { returned, events } = await enrich(flagRecords);

    assert.equal(returned, flagRecords, "the records go on to the audit trail unchanged");
    assert.deepEqual(
      events.map((e) => e.detailType),
      ["Flag Created", "Flag Updated", "Flag Deleted"],
    );
    const lines = flagRecords.map(streamRecordToAuditLine).filter((l) => l !== undefined);
    assert.deepEqual(
      events.map((e) => JSON.parse(e.detail)),
      lines,
      "the detail is exactly the audit line",
    );
    const table = flagRecords[0].eventSourceARN?.split("/stream/")[0];
    assert.ok(table?.includes(":table/"));
    assert.ok(events.every((e) => e.resources.length === 1 && e.resources[0] === table));
  });

  it("makes evaluator changes Evaluator Created, Updated and Deleted events", async () => {
    const { events } = await enrich(evaluatorRecords);

    assert.deepEqual(
      events.map((e) => e.detailType),
      ["Evaluator Created", "Evaluator Updated", "Evaluator Deleted"],
    );
    const details = events.map((e) => JSON.parse(e.detail));
    assert.ok(details.every((d) => d.evaluatorName === "eu" && d.flagName === undefined));
  });

  it("never makes an event or a delivery of a read", async () => {
    const [created] = flagRecords;
    const image = created.dynamodb?.NewImage ?? {};
    const read: DynamoDBRecord = {
      ...created,
      eventID: "read-1",
      eventName: "MODIFY",
      dynamodb: {
        ...created.dynamodb,
        OldImage: image,
        NewImage: { ...image, lastAccessed: { S: new Date().toISOString() }, lastAccessedBy: { S: "reader" } },
      },
    };

    const { events, deliveries } = await enrich([read], ["w1"]);

    assert.deepEqual(events, []);
    assert.deepEqual(deliveries, []);
  });

  it("queues one delivery per webhook and change, in stream order, grouped by webhook and flag", async () => {
    const { events, deliveries } = await enrich(flagRecords, ["w1", "w2"]);

    assert.equal(deliveries.length, 2 * events.length);
    for (const webhook of ["w1", "w2"]) {
      const mine = deliveries.filter((d) => d.webhook === webhook);
      assert.deepEqual(
        mine.map((d) => d.body),
        events.map((e) => e.detail),
      );
      assert.ok(mine.every((d) => d.group === deliveryGroupOf(webhook, "flag:checkout")));
      assert.deepEqual(
        mine.map((d) => d.id),
        events.map((e) => JSON.parse(e.detail).eventId),
      );
    }
    assert.notEqual(deliveryGroupOf("w1", "flag:a"), deliveryGroupOf("w1", "evaluator:a"));
    assert.ok(deliveryGroupOf("w1", `flag:${"x".repeat(128)}`).length <= 128);
  });

  it("tags events with their table, so a rule's pattern matches one stack's and not another's on a shared bus", async () => {
    const { events } = await enrich(flagRecords);
    const own = changeEventPattern(events[0].resources);
    const other = changeEventPattern(["arn:aws:dynamodb:eu-west-1:123456789012:table/other-stack-flags"]);
    const matches = (pattern: { source: string[]; resources: string[] }, event: ChangeEvent) =>
      pattern.source.includes("feature-flags") && event.resources.some((r) => pattern.resources.includes(r));

    assert.ok(events.every((e) => matches(own, e)));
    assert.ok(events.every((e) => !matches(other, e)));
  });
});

describe("change events: EventBridge and SQS requests", () => {
  const event = (n: number): ChangeEvent => ({ detailType: "Flag Updated", detail: `{"n":${n}}`, resources: ["t"] });

  it("puts 10 entries a request on the named bus, and sends again only the entries EventBridge refused", async () => {
    const requests: Array<Array<{ EventBusName?: string; Source?: string; Detail?: string }>> = [];
    const client = {
      send: async (command: { input: { Entries: Array<{ Detail?: string }> } }) => {
        requests.push(command.input.Entries);
        // The first request's second entry is throttled once.
        const entries = command.input.Entries.map((_, i) =>
          requests.length === 1 && i === 1 ? { ErrorCode: "ThrottlingException" } : { EventId: "x" },
        );
        return { FailedEntryCount: entries.filter((e) => "ErrorCode" in e).length, Entries: entries };
      },
    };

    await makeEventBusPublisher(client as never, "team-bus")(Array.from({ length: 12 }, (_, i) => event(i)));

    assert.deepEqual(
      requests.map((r) => r.length),
      [10, 1, 2],
    );
    assert.equal(requests[1][0].Detail, '{"n":1}');
    assert.ok(requests.flat().every((e) => e.EventBusName === "team-bus" && e.Source === "feature-flags"));
  });

  it("fails the batch (the Pipe retries it) when EventBridge keeps refusing an entry", async () => {
    const client = { send: async () => ({ FailedEntryCount: 1, Entries: [{ ErrorCode: "InternalFailure" }] }) };
    await assert.rejects(makeEventBusPublisher(client as never, "default")([event(1)]), /InternalFailure/);
  });

  it("queues each delivery with its group, a deduplication id per event and webhook, and fails on a refused one", async () => {
    const sent: Array<Record<string, unknown>> = [];
    const ok = { send: async (command: { input: Record<string, unknown> }) => (sent.push(command.input), {}) };
    const delivery = { webhook: "w1", group: "w1:flag:a", id: "e1", body: "{}" };

    await makeDeliveryEnqueuer(ok as never, "https://sqs/q.fifo")([delivery]);

    const [entry] = sent[0].Entries as Array<Record<string, any>>;
    assert.equal(entry.MessageGroupId, "w1:flag:a");
    assert.equal(entry.MessageDeduplicationId, "e1:w1");
    assert.equal(entry.MessageAttributes.webhook.StringValue, "w1");
    const refusing = { send: async () => ({ Failed: [{ Id: "0", Code: "InternalError", Message: "x" }] }) };
    await assert.rejects(makeDeliveryEnqueuer(refusing as never, "q")([delivery]), /InternalError/);
  });
});

describe("change events: webhook delivery (Standard Webhooks)", () => {
  const receivers: Array<{ stop(): Promise<void> }> = [];
  after(async () => {
    for (const receiver of receivers) await receiver.stop();
  });
  const receiver = async (...args: Parameters<typeof startWebhookReceiver>) => {
    const started = await startWebhookReceiver(...args);
    receivers.push(started);
    return started;
  };
  const sqsRecord = deliveryRecord;
  const line = (n: number) => JSON.stringify({ eventId: `e${n}`, eventName: "updated", flagName: "a", version: n });

  it("POSTs the audit line signed so that the official library verifies it, webhook-id being the event id", async () => {
    const secret = newSecret();
    const hook = await receiver(secret);
    const handler = makeWebhookDeliveryHandler({
      webhooks: async () => [hook.webhook],
      retryLater: async () => assert.fail("no retry"),
      logger: silent,
    });

    const result = await handler({ Records: [sqsRecord(hook.url, "e1", line(1), "g")] });

    assert.deepEqual(result.batchItemFailures, []);
    const [got] = hook.received;
    assert.equal(got.verified, true);
    assert.equal(got.body, line(1));
    assert.equal(got.headers["webhook-id"], "e1");
    assert.match(got.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]+=*$/);
    assert.ok(Math.abs(Number(got.headers["webhook-timestamp"]) - Date.now() / 1000) < 5);
    // And a receiver with another secret refuses it.
    assert.throws(() => new Webhook(newSecret()).verify(got.body, got.headers));
  });

  it("fails a delivery answered 500, hides it for a doubling delay, and retries it with the same webhook-id", async () => {
    const hook = await receiver(newSecret(), (n) => (n < 2 ? 500 : 200));
    const delays: Array<[string, number]> = [];
    const handler = makeWebhookDeliveryHandler({
      webhooks: async () => [hook.webhook],
      retryLater: async (receipt, seconds) => void delays.push([receipt, seconds]),
      logger: silent,
    });

    const attempts = [];
    for (const receiveCount of [1, 2, 3]) {
      attempts.push(await handler({ Records: [sqsRecord(hook.url, "e7", line(7), "g", receiveCount)] }));
    }

    assert.deepEqual(
      attempts.map((a) => a.batchItemFailures.map((f) => f.itemIdentifier)),
      [["m-e7"], ["m-e7"], []],
    );
    assert.deepEqual(delays, [
      ["rh-e7", 15],
      ["rh-e7", 30],
    ]);
    assert.deepEqual(
      hook.received.map((r) => r.headers["webhook-id"]),
      ["e7", "e7", "e7"],
    );
    assert.ok(hook.received.every((r) => r.verified));
  });

  it("counts no answer within the timeout as a failure", async () => {
    const hook = await receiver(newSecret(), () => "hang");
    const handler = makeWebhookDeliveryHandler({
      webhooks: async () => [hook.webhook],
      retryLater: async () => undefined,
      logger: silent,
      deliver: (webhook, id, body) => deliverWebhook(webhook, id, body, { timeoutMs: 300 }),
    });
    const started = Date.now();

    const result = await handler({ Records: [sqsRecord(hook.url, "e1", line(1), "g")] });

    assert.deepEqual(
      result.batchItemFailures.map((f) => f.itemIdentifier),
      ["m-e1"],
    );
    assert.ok(Date.now() - started < 5_000);
  });

  it("holds back the rest of a failing group only: another receiver's deliveries in the batch go through", async () => {
    const dead = await receiver(newSecret(), () => 503);
    const alive = await receiver(newSecret());
    const handler = makeWebhookDeliveryHandler({
      webhooks: async () => [dead.webhook, alive.webhook],
      retryLater: async () => undefined,
      logger: silent,
    });
    const deadGroup = deliveryGroupOf(webhookId(dead.url), "flag:a");
    const aliveGroup = deliveryGroupOf(webhookId(alive.url), "flag:a");

    const result = await handler({
      Records: [
        sqsRecord(dead.url, "e1", line(1), deadGroup),
        sqsRecord(dead.url, "e2", line(2), deadGroup),
        sqsRecord(alive.url, "e3", line(1), aliveGroup),
      ],
    });

    assert.deepEqual(
      result.batchItemFailures.map((f) => f.itemIdentifier),
      ["m-e1", "m-e2"],
    );
    assert.equal(dead.received.length, 1, "the dead receiver's later event is not attempted out of order");
    assert.deepEqual(
      alive.received.map((r) => r.headers["webhook-id"]),
      ["e3"],
    );
  });

  it("drops a delivery whose webhook was removed from the configuration, and fails when the webhooks cannot be read", async () => {
    const handler = (webhooks: () => Promise<never[]>) =>
      makeWebhookDeliveryHandler({ webhooks, retryLater: async () => undefined, logger: silent });
    const record = sqsRecord("https://gone.example.com", "e1", line(1), "g");

    assert.deepEqual((await handler(async () => [])({ Records: [record] })).batchItemFailures, []);
    await assert.rejects(
      handler(async () => {
        throw new Error("SSM unavailable");
      })({ Records: [record] }),
      /SSM unavailable/,
    );
  });
});

describe("change events: configuration and retry schedule", () => {
  it("accepts Standard Webhooks secrets and refuses anything else, naming the entry", () => {
    const secret = newSecret();
    assert.deepEqual(parseWebhooks(JSON.stringify([{ url: "https://a.example/h", secret }]), "webhooks"), [
      { url: "https://a.example/h", secret },
    ]);
    assert.deepEqual(parseWebhooks(undefined, "webhooks"), []);
    const refused = [
      ["not json", /must be JSON/],
      ['{"url": "x"}', /JSON array/],
      [JSON.stringify([{ url: "ftp://a/b", secret }]), /webhooks\[0\]\.url/],
      [JSON.stringify([{ url: "https://a/b", secret: "whsec_c2hvcnQ=" }]), /webhooks\[0\]\.secret/],
      [JSON.stringify([{ url: "https://a/b", secret: secret.slice(6) }]), /webhooks\[0\]\.secret/],
      [
        JSON.stringify([
          { url: "https://a/b", secret },
          { url: "https://a/b", secret },
        ]),
        /webhooks\[1\]\.url is configured twice/,
      ],
    ] as const;
    for (const [raw, message] of refused) assert.throws(() => parseWebhooks(raw, "webhooks"), message);
  });

  it("retries with backoff for over an hour on AWS, and at least 5 times over a minute locally", () => {
    assert.deepEqual([1, 2, 3, 7, 10].map(retryDelaySeconds), [15, 30, 60, 900, 900]);
    assert.ok(retrySpanSeconds(MAX_RECEIVES) >= 3600);
    assert.ok(LOCAL_RETRY_DELAYS_MS.length + 1 >= 5);
    assert.ok(LOCAL_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0) >= 60_000);
    assert.ok(LOCAL_RETRY_DELAYS_MS.every((delay, i) => i === 0 || delay > LOCAL_RETRY_DELAYS_MS[i - 1]));
  });
});
