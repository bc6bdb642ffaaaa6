import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV, changeEventsEntrypoint, webhookDeliveryEntrypoint } from "../handlers/entrypoints";
import { type WebhookConfig, changeEventPattern, parseWebhooks, webhookId } from "../handlers/events/model";
import { MAX_RECEIVES } from "../handlers/events/retry";
import { ServiceFunction } from "./serviceFunction";

/** Seconds one delivery invocation may run: one attempt (10 s at most) and the SDK calls around it. */
export const WEBHOOK_DELIVERY_TIMEOUT_SECONDS = 30;

export interface ChangeEventsArgs {
  /**
   * The EventBridge bus every change goes to, by name. Default `default`, the account's default
   * bus (which other stacks may share: each event names its table in `resources`, so a rule can
   * match this stack's, see `eventPattern`).
   */
  eventBusName?: string;
  /**
   * Webhooks (Standard Webhooks) every change is POSTed to, each `{url, secret}` with a
   * `whsec_…` secret. Stored only as an SSM SecureString (a secret in Pulumi state); the functions'
   * configuration holds no URL and no secret. Default none.
   */
  webhooks?: WebhookConfig[];
  /** The SSM path the webhooks' SecureString goes under (`<prefix>/webhooks`), e.g. `/feature-flags/dev`. */
  parameterPrefix: string;
  /** The tables whose changes become events (their ARNs are the events' `resources`). */
  tables: Array<{ arn: pulumi.Input<string> }>;
  /** Retention of the functions' log groups, in days. Default 30. */
  logRetentionDays?: number;
}

/**
 * Every change (flags and evaluators; never a read) as an event on EventBridge and as a signed POST
 * to each configured webhook, in each flag's order, never in the way of the change itself.
 *
 * Where the events come from. Each table's stream already has its two readers (the realtime
 * fan-out and the audit Pipe); a third would be throttled. So the events come from the audit
 * Pipe's enrichment step: `enrichment` (handlers/events/publish.ts) sees each batch in stream order,
 * puts its changes on the bus, queues one delivery per webhook, and hands the records on untouched
 * to Firehose, so the audit trail keeps its one line per change in the same format (its transform
 * is unchanged) while events and lines come from the same records by the same function. Making
 * the bus the Pipe's target (and feeding Firehose from a rule) was the other shape: it would put
 * the trail behind one more at-least-once hop, hand Firehose lines without their newline, and still
 * lose the order webhooks need, because EventBridge does not keep order; the branch to the
 * webhooks has to happen before the bus, where the stream's order still holds.
 *
 * Why a delivery function, not EventBridge API destinations. An API destination can send the line
 * with static headers, but not compute the Standard Webhooks signature (an HMAC over id,
 * timestamp and body, new on every attempt), and its retries (24 h at most, no order) cannot hold
 * one flag's later events behind an earlier one. So deliveries go to a FIFO queue, one message
 * group per (webhook, flag): a failed delivery holds back only the same receiver's later events
 * about the same flag. The delivery function signs with the official `standardwebhooks` package,
 * takes one message per invocation (a dead receiver's 10 s timeouts never sit in front of another
 * receiver's delivery in a batch, and SQS counts each attempt exactly), and on failure hides the
 * message for 15 s, 30 s, … up to 15 min: MAX_RECEIVES attempts over 76 minutes, then the
 * dead-letter queue, which Observability alarms on.
 *
 * Why an SSM SecureString for the secrets. Lambda environment variables are encrypted at rest but
 * shown in plain text to anyone who may read the function's configuration; Secrets Manager would
 * cost per secret and month for rotation nobody uses here (a secret changes with `pulumi config
 * set`). A SecureString under the account's `aws/ssm` key costs nothing, is readable only with
 * `ssm:GetParameter` on that one parameter (granted to the delivery function alone), and is a
 * secret in Pulumi state. The enrichment gets only the webhooks' ids (digests of their URLs).
 */
export class ChangeEvents extends pulumi.ComponentResource {
  /** The audit Pipes' enrichment: what puts events on the bus and queues deliveries. */
  readonly enrichment: ServiceFunction;
  /** Delivers queued changes to the webhooks; undefined without webhooks. */
  readonly delivery?: ServiceFunction;
  readonly deliveryQueue?: aws.sqs.Queue;
  /** Deliveries given up on after MAX_RECEIVES attempts; undefined without webhooks. */
  readonly deadLetterQueue?: aws.sqs.Queue;
  readonly eventBusArn: pulumi.Output<string>;
  /**
   * An EventBridge event pattern matching this stack's change events and nothing of another stack
   * on the same bus, as JSON: `{"source": ["feature-flags"], "resources": [<tables' ARNs>]}`.
   */
  readonly eventPattern: pulumi.Output<string>;

  constructor(name: string, args: ChangeEventsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:events:ChangeEvents", name, {}, opts);
    const eventBusName = args.eventBusName ?? "default";
    if (!/^[A-Za-z0-9._-]{1,256}$/.test(eventBusName)) {
      throw new pulumi.ResourceError(
        `eventBusName '${eventBusName}' must be the name of a bus in this account and region (letters, digits, . _ -), e.g. "default"`,
        this,
      );
    }
    const webhooks = this.checkedWebhooks(args.webhooks ?? []);
    const logRetentionDays = args.logRetentionDays ?? 30;
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const eventBusArn = pulumi.interpolate`arn:aws:events:${region}:${account}:event-bus/${eventBusName}`;

    const deliveries = webhooks.length === 0 ? undefined : this.createDelivery(name, args, webhooks, logRetentionDays);

    const enrichment = new ServiceFunction(
      `${name}-change-publisher`,
      {
        description: "Puts every flag and evaluator change on EventBridge and queues its webhook deliveries",
        callbackFactory: changeEventsEntrypoint,
        statements: [
          { Effect: "Allow", Action: ["events:PutEvents"], Resource: eventBusArn },
          ...(deliveries === undefined
            ? []
            : [{ Effect: "Allow" as const, Action: ["sqs:SendMessage"], Resource: deliveries.queue.arn }]),
        ],
        environment: {
          [ENV.eventBusName]: eventBusName,
          ...(deliveries === undefined
            ? {}
            : {
                [ENV.webhookQueue]: deliveries.queue.url,
                [ENV.webhookIds]: JSON.stringify(webhooks.map((webhook) => webhookId(webhook.url))),
              }),
        },
        logRetentionDays,
        memorySize: 256,
        // A batch of 100 records: 10 PutEvents and a few SendMessageBatch calls.
        timeout: 60,
      },
      { parent: this },
    );

    this.enrichment = enrichment;
    this.delivery = deliveries?.fn;
    this.deliveryQueue = deliveries?.queue;
    this.deadLetterQueue = deliveries?.deadLetters;
    this.eventBusArn = eventBusArn;
    this.eventPattern = pulumi
      .all(args.tables.map((table) => table.arn))
      .apply((arns) => JSON.stringify(changeEventPattern(arns)));
    this.registerOutputs({ eventBusArn, eventPattern: this.eventPattern });
  }

  private checkedWebhooks(webhooks: WebhookConfig[]): WebhookConfig[] {
    try {
      return parseWebhooks(JSON.stringify(webhooks), "webhooks");
    } catch (error) {
      throw new pulumi.ResourceError((error as Error).message, this);
    }
  }

  /** The FIFO delivery queue, its dead-letter queue, the secrets' parameter and the delivery function. */
  private createDelivery(name: string, args: ChangeEventsArgs, webhooks: WebhookConfig[], logRetentionDays: number) {
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(args.parameterPrefix)) {
      throw new pulumi.ResourceError(
        `parameterPrefix '${args.parameterPrefix}' must be an SSM path such as /feature-flags/dev`,
        this,
      );
    }
    const deadLetters = new aws.sqs.Queue(
      `${name}-webhooks-dlq`,
      { fifoQueue: true, sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 60 * 60 },
      { parent: this },
    );
    const queue = new aws.sqs.Queue(
      `${name}-webhooks`,
      {
        fifoQueue: true,
        // Deduplication ids are explicit (event and webhook): a Pipe's retried batch is not sent twice.
        contentBasedDeduplication: false,
        // Deduplication and throughput per message group: groups (a webhook and a flag) are independent.
        deduplicationScope: "messageGroup",
        fifoThroughputLimit: "perMessageGroupId",
        sqsManagedSseEnabled: true,
        // Six times the function's timeout, as Lambda advises for a queue it reads; a failed
        // delivery sets its own, shorter, delay.
        visibilityTimeoutSeconds: 6 * WEBHOOK_DELIVERY_TIMEOUT_SECONDS,
        messageRetentionSeconds: 4 * 24 * 60 * 60,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: MAX_RECEIVES }),
      },
      { parent: this },
    );
    const parameter = new aws.ssm.Parameter(
      `${name}-webhooks`,
      {
        name: `${args.parameterPrefix}/webhooks`,
        type: "SecureString",
        value: pulumi.secret(JSON.stringify(webhooks)),
        description: "Change-event webhooks (URL and secret each), read by the webhook delivery function",
      },
      { parent: this },
    );
    const fn = new ServiceFunction(
      `${name}-webhook-delivery`,
      {
        description: "POSTs each change to its webhook, signed as Standard Webhooks define",
        callbackFactory: webhookDeliveryEntrypoint,
        statements: [
          // Reading its queue (the event source mapping, with the function's role) and delaying a retry.
          {
            Effect: "Allow",
            Action: [
              "sqs:ReceiveMessage",
              "sqs:DeleteMessage",
              "sqs:GetQueueAttributes",
              "sqs:ChangeMessageVisibility",
            ],
            Resource: queue.arn,
          },
          // Decrypted with the AWS-managed aws/ssm key, whose policy lets SSM decrypt for any
          // principal of the account that may read the parameter: no kms grant is needed.
          { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameter.arn },
        ],
        environment: { [ENV.webhooksParameter]: parameter.name, [ENV.webhookQueue]: queue.url },
        logRetentionDays,
        memorySize: 256,
        timeout: WEBHOOK_DELIVERY_TIMEOUT_SECONDS,
      },
      { parent: this },
    );
    new aws.lambda.EventSourceMapping(
      `${name}-webhooks-source`,
      {
        functionName: fn.function.name,
        eventSourceArn: queue.arn,
        // One delivery per invocation: see the class comment.
        batchSize: 1,
        functionResponseTypes: ["ReportBatchItemFailures"],
      },
      { parent: this },
    );
    return { queue, deadLetters, fn };
  }
}
