import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ServiceFunction } from "./serviceFunction";

/**
 * What counts as an error in a function's logs: ERROR or FATAL level, in the JSON that Powertools
 * Logger and Lambda's JSON log format write. Handlers log client errors (4xx) at WARN, so a 404
 * never matches.
 */
export const ERROR_LOG_PATTERN = '{ ($.level = "ERROR") || ($.level = "FATAL") }';

/** Where the Lambda Node.js runtime's JSON line for a thrown error keeps the error's message. */
const RUNTIME_ERROR_MESSAGE = "$.message.errorMessage";

function checkedMessage(message: string): string {
  if (!/^[A-Za-z0-9 _.:-]+$/.test(message)) {
    throw new Error(`expected error message '${message}' must be plain text (letters, digits, spaces, _.:-)`);
  }
  return message;
}

/**
 * The error-log pattern of a function that throws some errors on purpose: ERROR lines count
 * unless they are the runtime's line for one of those errors (`{"level": "ERROR", "message":
 * {"errorType": "Error", "errorMessage": "Unauthorized", ...}}`). `NOT EXISTS` keeps every other
 * ERROR line (a Powertools line's `message` is a string) without relying on how `!=` treats a
 * missing field.
 */
export function errorLogPattern(expectedErrorMessages: readonly string[] = []): string {
  if (expectedErrorMessages.length === 0) return ERROR_LOG_PATTERN;
  const notExpected = expectedErrorMessages
    .map((message) => `(${RUNTIME_ERROR_MESSAGE} != "${checkedMessage(message)}")`)
    .join(" && ");
  return `{ ($.level = "FATAL") || (($.level = "ERROR") && ((${RUNTIME_ERROR_MESSAGE} NOT EXISTS) || (${notExpected}))) }`;
}

/** The runtime's ERROR lines for errors the function throws on purpose (see errorLogPattern). */
export function expectedErrorPattern(expectedErrorMessages: readonly string[]): string {
  const any = expectedErrorMessages
    .map((message) => `(${RUNTIME_ERROR_MESSAGE} = "${checkedMessage(message)}")`)
    .join(" || ");
  return `{ ($.level = "ERROR") && (${any}) }`;
}
/** Custom metrics the error-log filters write to. */
export const METRICS_NAMESPACE = "FeatureFlags";

export interface ObservabilityArgs {
  /**
   * The functions to watch: each gets an error-log filter and alarm. Default: every
   * ServiceFunction created before this component.
   */
  functions?: readonly ServiceFunction[];
  /** The REST API: 5XX alarm and dashboard widgets. */
  restApi?: { name: pulumi.Input<string>; stageName: pulumi.Input<string> };
  /**
   * The function serving each REST route group (and the authorizer): the dashboard draws each
   * one's Lambda `Duration` p50/p99, the latency of its routes. Per-route API Gateway latency would
   * need per-method detailed metrics, billed as custom metrics for every method; Lambda's
   * Duration is free and, with one function per route group, says the same per group.
   */
  routeGroups?: Readonly<Record<string, ServiceFunction>>;
  /** The WebSocket API: connection and message widgets. */
  webSocketApi?: { id: pulumi.Input<string>; stageName: pulumi.Input<string> };
  /** Stream consumers: alarm when they fall behind (iterator age). */
  streamConsumers?: ServiceFunction[];
  /** Dead-letter queues: alarm on any message in one. */
  deadLetterQueues?: aws.sqs.Queue[];
  /**
   * Work queues whose oldest message must not wait longer than `maxAgeSeconds`: more means their
   * consumer stopped taking messages (a message it keeps failing is dead-lettered before that).
   */
  workQueues?: { queue: aws.sqs.Queue; maxAgeSeconds: number }[];
  /** Firehose delivery streams: alarm when delivery to S3 lags. */
  deliveryStreams?: { name: pulumi.Input<string> }[];
  /** Email address subscribed to the alarm topic; "" or undefined for none. */
  alarmEmail?: string;
  /** Iterator age, in ms, above which a stream consumer counts as behind. Default 60 000. */
  maxIteratorAgeMs?: number;
  /** Seconds of Firehose delivery lag that alarm. Default 900 (three buffering intervals). */
  maxDeliveryFreshnessSeconds?: number;
}

/**
 * Alarms that mean something, on one encrypted SNS topic: an ERROR line in any function's logs
 * (never a client's 404), API 5XX, stream consumers falling behind, anything in a dead-letter
 * queue, a work queue whose consumer stopped, Firehose delivery lag; and a dashboard of the
 * service's vital signs.
 */
export class Observability extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarms: aws.cloudwatch.MetricAlarm[] = [];
  readonly dashboard: aws.cloudwatch.Dashboard;
  readonly alarmTopicArn: pulumi.Output<string>;

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:observability:Observability", name, {}, opts);
    if (
      args.alarmEmail !== undefined &&
      args.alarmEmail !== "" &&
      !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.alarmEmail)
    ) {
      throw new pulumi.ResourceError(`alarmEmail '${args.alarmEmail}' is not an email address`, this);
    }
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;

    const createTopic = () => {
      // A customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed aws/sns key.
      const key = new aws.kms.Key(
        `${name}-alarms-key`,
        {
          description: "Encrypts the alarm topic",
          enableKeyRotation: true,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "AccountAdministers",
                Effect: "Allow",
                Principal: { AWS: pulumi.interpolate`arn:aws:iam::${account}:root` },
                Action: "kms:*",
                Resource: "*",
              },
              {
                Sid: "CloudWatchPublishes",
                Effect: "Allow",
                Principal: { Service: "cloudwatch.amazonaws.com" },
                Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
                Resource: "*",
                Condition: { StringEquals: { "aws:SourceAccount": account } },
              },
            ],
          }),
        },
        { parent: this },
      );
      const topic = new aws.sns.Topic(`${name}-alarms`, { kmsMasterKeyId: key.arn }, { parent: this });
      new aws.sns.TopicPolicy(
        `${name}-alarms-policy`,
        {
          arn: topic.arn,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "CloudWatchAlarmsPublish",
                Effect: "Allow",
                Principal: { Service: "cloudwatch.amazonaws.com" },
                Action: "sns:Publish",
                Resource: topic.arn,
                Condition: { StringEquals: { "aws:SourceAccount": account } },
              },
              {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "sns:Publish",
                Resource: topic.arn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
            ],
          }),
        },
        { parent: this },
      );
      if (args.alarmEmail !== undefined && args.alarmEmail !== "") {
        new aws.sns.TopicSubscription(
          `${name}-alarms-email`,
          { topic: topic.arn, protocol: "email", endpoint: args.alarmEmail },
          { parent: this },
        );
      }
      return topic;
    };

    const topic = createTopic();
    const alarm = (suffix: string, alarmArgs: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions">) =>
      this.alarms.push(
        new aws.cloudwatch.MetricAlarm(
          `${name}-${suffix}`,
          { treatMissingData: "notBreaching", ...alarmArgs, alarmActions: [topic.arn], okActions: [topic.arn] },
          { parent: this },
        ),
      );

    const functions = args.functions ?? ServiceFunction.created();
    for (const fn of functions) {
      const metricName = `${fn.name}-error-logs`;
      const short = fn.name.replace(`${name}-`, "");
      new aws.cloudwatch.LogMetricFilter(
        `${fn.name}-error-logs`,
        {
          logGroupName: fn.logGroup.name,
          pattern: errorLogPattern(fn.expectedErrorMessages),
          metricTransformation: { namespace: METRICS_NAMESPACE, name: metricName, value: "1" },
        },
        { parent: this },
      );
      this.invocationErrorsAlarm(name, fn, alarm);
      alarm(`${short}-errors`, {
        alarmDescription: pulumi.interpolate`An ERROR line in the logs of ${fn.function.name}`,
        namespace: METRICS_NAMESPACE,
        metricName,
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
      });
    }

    if (args.restApi !== undefined) {
      alarm("api-5xx", {
        alarmDescription: "The REST API answered 5XX",
        namespace: "AWS/ApiGateway",
        metricName: "5XXError",
        dimensions: { ApiName: args.restApi.name, Stage: args.restApi.stageName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
      });
    }
    for (const consumer of args.streamConsumers ?? []) {
      alarm(`${consumer.name.replace(`${name}-`, "")}-iterator-age`, {
        alarmDescription: pulumi.interpolate`${consumer.function.name} is falling behind its stream`,
        namespace: "AWS/Lambda",
        metricName: "IteratorAge",
        dimensions: { FunctionName: consumer.function.name },
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 5,
        threshold: args.maxIteratorAgeMs ?? 60_000,
        comparisonOperator: "GreaterThanThreshold",
      });
    }
    for (const [index, queue] of (args.deadLetterQueues ?? []).entries()) {
      alarm(`dlq-messages-${index}`, {
        alarmDescription: pulumi.interpolate`Records were given up on and parked in ${queue.name}`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: queue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
      });
    }
    for (const [index, { queue, maxAgeSeconds }] of (args.workQueues ?? []).entries()) {
      alarm(`queue-age-${index}`, {
        alarmDescription: pulumi.interpolate`Messages in ${queue.name} wait longer than their retries can explain: its consumer is not taking them`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: queue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: maxAgeSeconds,
        comparisonOperator: "GreaterThanThreshold",
      });
    }
    (args.deliveryStreams ?? []).forEach((stream, index) =>
      alarm(`delivery-freshness-${index}`, {
        alarmDescription: pulumi.interpolate`Firehose ${stream.name} is late delivering audit records to S3`,
        namespace: "AWS/Firehose",
        metricName: "DeliveryToS3.DataFreshness",
        dimensions: { DeliveryStreamName: stream.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: args.maxDeliveryFreshnessSeconds ?? 900,
        comparisonOperator: "GreaterThanThreshold",
      }),
    );

    this.dashboard = this.createDashboard(name, functions, args, region);
    this.topic = topic;
    this.alarmTopicArn = topic.arn;
    this.registerOutputs({ alarmTopicArn: this.alarmTopicArn });
  }

  /**
   * `AWS/Lambda Errors` per function: the only signal for a timeout, an out-of-memory kill or an
   * init crash, none of which writes an ERROR line. A function that throws some errors on purpose
   * has those (counted from their runtime log lines) subtracted; both are timestamped at the
   * invocation, so they fall in the same 5-minute period.
   */
  private invocationErrorsAlarm(
    name: string,
    fn: ServiceFunction,
    alarm: (suffix: string, alarmArgs: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions">) => number,
  ): void {
    const short = fn.name.replace(`${name}-`, "");
    const errors = {
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: fn.function.name },
      period: 300,
      stat: "Sum",
    };
    const common = {
      alarmDescription: pulumi.interpolate`${fn.function.name} failed an invocation: an unhandled error, a timeout, running out of memory or a crash at start`,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
    };
    if (fn.expectedErrorMessages.length === 0) {
      alarm(`${short}-invocation-errors`, {
        ...common,
        namespace: errors.namespace,
        metricName: errors.metricName,
        dimensions: errors.dimensions,
        statistic: "Sum",
        period: errors.period,
      });
      return;
    }
    const expectedMetric = `${fn.name}-expected-errors`;
    new aws.cloudwatch.LogMetricFilter(
      `${fn.name}-expected-errors`,
      {
        logGroupName: fn.logGroup.name,
        pattern: expectedErrorPattern(fn.expectedErrorMessages),
        metricTransformation: { namespace: METRICS_NAMESPACE, name: expectedMetric, value: "1" },
      },
      { parent: this },
    );
    alarm(`${short}-invocation-errors`, {
      ...common,
      metricQueries: [
        { id: "errors", metric: errors, returnData: false },
        {
          id: "expected",
          metric: { namespace: METRICS_NAMESPACE, metricName: expectedMetric, period: 300, stat: "Sum" },
          returnData: false,
        },
        {
          id: "faults",
          expression: "FILL(errors, 0) - FILL(expected, 0)",
          label: "Errors other than the expected refusals",
          returnData: true,
        },
      ],
    });
  }

  private createDashboard(
    name: string,
    watched: readonly ServiceFunction[],
    args: ObservabilityArgs,
    region: pulumi.Output<string>,
  ): aws.cloudwatch.Dashboard {
    const functionNames = watched.map((fn) => fn.function.name);
    const consumerNames = (args.streamConsumers ?? []).map((fn) => fn.function.name);
    const groupNames = Object.entries(args.routeGroups ?? {}).map(([group, fn]) =>
      fn.function.name.apply((functionName) => ({ group, functionName })),
    );
    const body = pulumi
      .all([
        region,
        pulumi.output(functionNames),
        pulumi.output(consumerNames),
        pulumi.output(args.restApi),
        pulumi.output(args.webSocketApi),
        pulumi.all(groupNames),
      ])
      .apply(([region, functions, consumers, rest, ws, groups]) => {
        const widget = (title: string, metrics: unknown[][], extra: object = {}) => ({
          type: "metric",
          width: 12,
          height: 6,
          properties: { title, region, metrics, period: 60, view: "timeSeries", ...extra },
        });
        const api = rest === undefined ? [] : ["AWS/ApiGateway", "ApiName", rest.name, "Stage", rest.stageName];
        const widgets = [
          ...(rest === undefined
            ? []
            : [
                widget("REST requests", [[...api.slice(0, 1), "Count", ...api.slice(1), { stat: "Sum" }]]),
                widget("REST latency, whole stage (ms)", [
                  [...api.slice(0, 1), "Latency", ...api.slice(1), { stat: "p50" }],
                  [...api.slice(0, 1), "Latency", ...api.slice(1), { stat: "p99" }],
                ]),
                ...(["p50", "p99"] as const).map((stat) =>
                  widget(
                    `Latency per route group, ${stat} (Lambda Duration, ms)`,
                    groups.map(({ group, functionName }) => [
                      "AWS/Lambda",
                      "Duration",
                      "FunctionName",
                      functionName,
                      { stat, label: group },
                    ]),
                  ),
                ),
                widget("REST 4XX / 5XX", [
                  [...api.slice(0, 1), "4XXError", ...api.slice(1), { stat: "Sum" }],
                  [...api.slice(0, 1), "5XXError", ...api.slice(1), { stat: "Sum" }],
                ]),
              ]),
          widget(
            "Lambda errors and throttles",
            functions.flatMap((fn) => [
              ["AWS/Lambda", "Errors", "FunctionName", fn, { stat: "Sum" }],
              ["AWS/Lambda", "Throttles", "FunctionName", fn, { stat: "Sum" }],
            ]),
          ),
          widget(
            "Stream iterator age (ms)",
            consumers.map((fn) => ["AWS/Lambda", "IteratorAge", "FunctionName", fn, { stat: "Maximum" }]),
          ),
          ...(ws === undefined
            ? []
            : [
                widget("WebSocket connections and messages", [
                  ["AWS/ApiGateway", "ConnectCount", "ApiId", ws.id, "Stage", ws.stageName, { stat: "Sum" }],
                  ["AWS/ApiGateway", "MessageCount", "ApiId", ws.id, "Stage", ws.stageName, { stat: "Sum" }],
                ]),
              ]),
        ];
        return JSON.stringify({ widgets });
      });
    return new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      { dashboardName: `${name}`, dashboardBody: body },
      { parent: this },
    );
  }
}
