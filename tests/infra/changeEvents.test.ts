import { strict as assert } from "node:assert";
import { ENV } from "../../handlers/entrypoints";
import { webhookId } from "../../handlers/events/model";
import { MAX_RECEIVES, retrySpanSeconds } from "../../handlers/events/retry";
import { dataGrants } from "../support/policies";
import { ACCOUNT, ofType, REGION, type RecordedResource, runProgram, single } from "../support/pulumiMocks";
import { TEST_WEBHOOKS } from "../support/webhooks";

const FUNCTION = "aws:lambda/function:Function";
const QUEUE = "aws:sqs/queue:Queue";
const functionNamed = (resources: RecordedResource[], suffix: string) => single(resources, FUNCTION, suffix);
const policyOf = (resources: RecordedResource[], fn: RecordedResource) =>
  ofType(resources, "aws:iam/rolePolicy:RolePolicy").find((p) => p.inputs.role === `${fn.name}-role-id`) ??
  assert.fail(`${fn.name} has no policy`);

describe("ChangeEvents (Pulumi mocks)", () => {
  describe("with eventBusName and webhooks", () => {
    let resources: RecordedResource[];
    before(async () => {
      resources = await runProgram({ eventBusName: "team-bus", webhooks: JSON.stringify(TEST_WEBHOOKS) });
    });

    it("runs the publisher as both audit Pipes' enrichment, granted to invoke exactly it", () => {
      const publisher = functionNamed(resources, "-change-publisher");
      const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${publisher.name}`;
      const pipes = ofType(resources, "aws:pipes/pipe:Pipe");
      assert.equal(pipes.length, 2);
      for (const pipe of pipes) {
        assert.equal(pipe.inputs.enrichment, arn);
        // The audit trail's target is unchanged: Firehose still gets every record.
        assert.match(pipe.inputs.target, /:firehose:/);
      }
      const pipeRole = single(resources, "aws:iam/rolePolicy:RolePolicy", "-audit-pipe-policy");
      assert.deepEqual(
        dataGrants(pipeRole).filter((g) => g.actions.includes("lambda:InvokeFunction")),
        [{ actions: ["lambda:InvokeFunction"], resources: [arn] }],
      );
    });

    it("puts events on the configured bus only, and queues deliveries on its FIFO queue only", () => {
      const publisher = functionNamed(resources, "-change-publisher");
      const queue = ofType(resources, QUEUE).find((q) => q.inputs.fifoQueue === true && q.inputs.redrivePolicy);
      assert.ok(queue, "a FIFO delivery queue with a redrive policy");
      assert.deepEqual(dataGrants(policyOf(resources, publisher)), [
        { actions: ["events:PutEvents"], resources: [`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/team-bus`] },
        { actions: ["sqs:SendMessage"], resources: [`arn:aws:sqs:${REGION}:${ACCOUNT}:${queue.name}`] },
      ]);
      const env = publisher.inputs.environment.variables;
      assert.equal(env[ENV.eventBusName], "team-bus");
      assert.deepEqual(
        JSON.parse(env[ENV.webhookIds]),
        TEST_WEBHOOKS.map((w) => webhookId(w.url)),
      );
    });

    it("keeps webhook URLs and secrets out of every function's configuration: only in a SecureString", () => {
      for (const fn of ofType(resources, FUNCTION)) {
        const text = JSON.stringify(fn.inputs.environment ?? {});
        for (const webhook of TEST_WEBHOOKS) {
          assert.ok(!text.includes(webhook.secret), `${fn.name} shows a webhook secret`);
          assert.ok(!text.includes(webhook.url), `${fn.name} shows a webhook URL`);
        }
      }
      const parameter = single(resources, "aws:ssm/parameter:Parameter", "-webhooks");
      assert.equal(parameter.inputs.type, "SecureString");
      assert.equal(parameter.inputs.name, "/feature-flags/dev/webhooks");
      // A secret: Pulumi sends (and keeps in state) the value wrapped as one, encrypted at rest.
      const value = parameter.inputs.value as { "4dabf18193072939515e22adb298388d": string; value: string };
      assert.equal(value["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "a secret value");
      assert.deepEqual(JSON.parse(value.value), TEST_WEBHOOKS);
      const delivery = functionNamed(resources, "-webhook-delivery");
      assert.equal(delivery.inputs.environment.variables[ENV.webhooksParameter], "/feature-flags/dev/webhooks");
      assert.deepEqual(
        dataGrants(policyOf(resources, delivery)).find((g) => g.actions.includes("ssm:GetParameter")),
        {
          actions: ["ssm:GetParameter"],
          resources: [`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/feature-flags/dev/webhooks`],
        },
      );
    });

    it("delivers one message per invocation from the FIFO queue, dead-letters after an hour of retries, and alarms", () => {
      const delivery = functionNamed(resources, "-webhook-delivery");
      const mapping = ofType(resources, "aws:lambda/eventSourceMapping:EventSourceMapping").find(
        (m) => m.inputs.functionName === delivery.name,
      );
      assert.ok(mapping);
      assert.equal(mapping.inputs.batchSize, 1);
      assert.deepEqual(mapping.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
      const queue = ofType(resources, QUEUE).find((q) => mapping.inputs.eventSourceArn.endsWith(`:${q.name}`));
      assert.ok(queue);
      assert.equal(queue.inputs.fifoQueue, true);
      assert.equal(queue.inputs.contentBasedDeduplication, false);
      const redrive = JSON.parse(queue.inputs.redrivePolicy);
      assert.equal(redrive.maxReceiveCount, MAX_RECEIVES);
      assert.ok(retrySpanSeconds(MAX_RECEIVES) >= 3600, "attempts span at least an hour");
      const dlq = ofType(resources, QUEUE).find((q) => redrive.deadLetterTargetArn.endsWith(`:${q.name}`));
      assert.ok(dlq && dlq.inputs.fifoQueue === true, "a FIFO dead-letter queue");
      const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm");
      assert.ok(
        alarms.some((a) => a.inputs.namespace === "AWS/SQS" && a.inputs.dimensions?.QueueName === dlq.name),
        "an alarm on the dead-letter queue",
      );
      // A delivery queue whose oldest message outlived every retry: its consumer stopped.
      const age = alarms.find(
        (a) => a.inputs.metricName === "ApproximateAgeOfOldestMessage" && a.inputs.dimensions?.QueueName === queue.name,
      );
      assert.ok(age, "an alarm on the delivery queue's oldest message");
      assert.ok(age.inputs.threshold > retrySpanSeconds(MAX_RECEIVES), "no alarm while deliveries are only retrying");
      assert.ok(
        age.inputs.threshold <= retrySpanSeconds(MAX_RECEIVES) + 3600,
        "an alarm within an hour of the retries' end",
      );
      for (const fn of [delivery, functionNamed(resources, "-change-publisher")]) {
        assert.ok(
          alarms.some((a) => a.inputs.dimensions?.FunctionName === fn.name && a.inputs.metricName === "Errors"),
          `an Errors alarm for ${fn.name}`,
        );
      }
    });
  });

  describe("with the defaults", () => {
    let resources: RecordedResource[];
    before(async () => {
      resources = await runProgram({});
    });

    it("puts events on the account's default bus, with no delivery queue, function or parameter", () => {
      const publisher = functionNamed(resources, "-change-publisher");
      assert.deepEqual(dataGrants(policyOf(resources, publisher)), [
        { actions: ["events:PutEvents"], resources: [`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`] },
      ]);
      assert.equal(publisher.inputs.environment.variables[ENV.webhookQueue], undefined);
      assert.equal(ofType(resources, FUNCTION).filter((f) => f.name.endsWith("-webhook-delivery")).length, 0);
      assert.equal(ofType(resources, QUEUE).filter((q) => q.inputs.fifoQueue === true).length, 0);
      assert.equal(
        ofType(resources, "aws:ssm/parameter:Parameter").filter((p) => p.name.endsWith("-webhooks")).length,
        0,
      );
    });
  });

  it("refuses a webhook whose secret is not a Standard Webhooks secret, naming the fix", async () => {
    await assert.rejects(
      runProgram({ webhooks: JSON.stringify([{ url: "https://example.com/hook", secret: "hunter2" }]) }),
      /webhooks\[0\]\.secret must be "whsec_"/,
    );
  });
});
