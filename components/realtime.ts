import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  ENV,
  fanoutEntrypoint,
  fanoutWorkerEntrypoint,
  snapshotEntrypoint,
  webSocketAuthorizerEntrypoint,
  wsConnectEntrypoint,
  wsDefaultEntrypoint,
  wsDisconnectEntrypoint,
} from "../handlers/entrypoints";
import { UNAUTHORIZED_MESSAGE } from "../handlers/auth/authorizers";
import {
  CONNECTIONS_TABLE,
  EVALUATORS_FILTER,
  FLAGS_STREAM_FILTERS,
  MAX_FANOUT_WORKERS,
  POSTS_PER_INVOCATION,
  SNAPSHOT_FILTER,
  STREAM_CONSUMER,
} from "../handlers/realtime/table";
import { FANOUT_WORKER_TIMEOUT_SECONDS } from "../handlers/realtime/scaleout";
import { ServiceFunction, type ServiceFunctionArgs } from "./serviceFunction";
import { WEBSOCKET_ACCESS_LOG_FORMAT, accessLogGroup, executionLogGroup } from "./accessLogs";
import { deadLetterQueue as createDeadLetterQueue, streamReadStatements } from "./streamConsumer";

/**
 * Seconds a stream consumer may run on one batch. A batch holds up to 100 records and the fan-out
 * posts each to every connection, 200 posts in flight: 1,000 connections at 50 ms a post is
 * 100 × 1,000 × 0.05 / 200 = 25 s of posting, so 10 s would time the batch out, retry it whole and
 * send duplicates. Lambda's limit is 900 s; this leaves headroom for slower posts.
 */
export const STREAM_CONSUMER_TIMEOUT_SECONDS = 300;

export interface RealtimeArgs {
  /** The flags table: read for snapshots; its stream drives the fan-out. */
  flagsTable: { name: pulumi.Input<string>; arn: pulumi.Input<string>; streamArn: pulumi.Input<string> };
  /**
   * The evaluators table: scanned for the shared evaluators snapshots and `evaluators.updated`
   * carry; its stream drives the fan-out too.
   */
  evaluatorsTable: { name: pulumi.Input<string>; arn: pulumi.Input<string>; streamArn: pulumi.Input<string> };
  /** The tokens table (FlagApi's) the `$connect` authorizer looks `?token=`'s hash up in. */
  tokensTable: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** Retention of every function's log group and of the stage's access logs, in days. Default 30. */
  logRetentionDays?: number;
  /** The stage's execution logging: `ERROR` (default) or `INFO`; message bodies never (data tracing off). */
  executionLogLevel?: "ERROR" | "INFO";
  /** Resources the stage's logging needs first (the account's API Gateway CloudWatch role, or its check). */
  loggingPrerequisites?: pulumi.Resource[];
  /** WebSocket stage name. Default: the stack name. */
  stageName?: string;
  /** Steady-state messages per second the stage admits. Default 100. */
  throttleRateLimit?: number;
  /** Burst the stage admits above the rate. Default 200. */
  throttleBurstLimit?: number;
  /**
   * Posts (connections × messages) one fan-out invocation makes; beyond it, segments of the
   * connections go to parallel worker invocations. Default POSTS_PER_INVOCATION (1,000).
   */
  fanoutPostsPerInvocation?: number;
  /** The most parallel workers (scan segments) one fan-out starts. Default MAX_FANOUT_WORKERS (100). */
  fanoutMaxWorkers?: number;
}

/**
 * Pushes every flag change to connected clients: an API Gateway WebSocket API whose `$connect`
 * checks the token, a connections table whose stream greets each new client with a snapshot, and
 * a fan-out consumer on the flags and evaluators tables' streams. Poison records end in a dead-letter queue.
 */
export class Realtime extends pulumi.ComponentResource {
  readonly api: aws.apigatewayv2.Api;
  readonly stage: aws.apigatewayv2.Stage;
  readonly connectionsTable: aws.dynamodb.Table;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly functions: Readonly<
    Record<
      "authorizer" | "connect" | "disconnect" | "default" | "snapshot" | "fanout" | "fanoutWorker",
      ServiceFunction
    >
  >;
  /** e.g. `wss://abc123.execute-api.eu-west-1.amazonaws.com/dev` */
  readonly websocketUrl: pulumi.Output<string>;

  constructor(name: string, args: RealtimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:realtime:Realtime", name, {}, opts);
    const stageName = args.stageName ?? pulumi.getStack().replace(/[^A-Za-z0-9_-]/g, "-");
    const logRetentionDays = args.logRetentionDays ?? 30;

    const connectionsTable = new aws.dynamodb.Table(
      `${name}-connections`,
      {
        billingMode: "PAY_PER_REQUEST",
        hashKey: CONNECTIONS_TABLE.hashKey,
        attributes: [...CONNECTIONS_TABLE.attributes],
        ttl: { attributeName: CONNECTIONS_TABLE.ttlAttribute, enabled: true },
        streamEnabled: true,
        streamViewType: CONNECTIONS_TABLE.streamViewType,
        serverSideEncryption: { enabled: true },
      },
      { parent: this },
    );

    const deadLetterQueue = createDeadLetterQueue(`${name}-stream-dlq`, this);

    const api = new aws.apigatewayv2.Api(
      `${name}-ws`,
      { protocolType: "WEBSOCKET", routeSelectionExpression: "$request.body.action" },
      { parent: this },
    );
    // Where PostToConnection goes, and the one thing the pushing functions may call there.
    const managementEndpoint = pulumi.interpolate`${api.apiEndpoint.apply((u) => u.replace(/^wss:/, "https:"))}/${stageName}`;
    const manageConnections: aws.iam.PolicyStatement = {
      Effect: "Allow",
      Action: ["execute-api:ManageConnections"],
      Resource: pulumi.interpolate`${api.executionArn}/${stageName}/POST/@connections/*`,
    };
    const removeConnections: aws.iam.PolicyStatement = {
      Effect: "Allow",
      Action: ["dynamodb:DeleteItem"],
      Resource: connectionsTable.arn,
    };
    const scanFlags: aws.iam.PolicyStatement = {
      Effect: "Allow",
      Action: ["dynamodb:Scan"],
      Resource: args.flagsTable.arn,
    };
    const scanEvaluators: aws.iam.PolicyStatement = {
      Effect: "Allow",
      Action: ["dynamodb:Scan"],
      Resource: args.evaluatorsTable.arn,
    };
    const toDeadLetters: aws.iam.PolicyStatement = {
      Effect: "Allow",
      Action: ["sqs:SendMessage"],
      Resource: deadLetterQueue.arn,
    };
    const environment = {
      [ENV.flagsTable]: args.flagsTable.name,
      [ENV.evaluatorsTable]: args.evaluatorsTable.name,
      [ENV.connectionsTable]: connectionsTable.name,
      [ENV.websocketEndpoint]: managementEndpoint,
    };
    const fn = (
      suffix: string,
      description: string,
      callbackFactory: ServiceFunctionArgs["callbackFactory"],
      statements: aws.iam.PolicyStatement[],
      env: Record<string, pulumi.Input<string>> = environment,
      memorySize = 256,
      timeout?: number,
      expectedErrorMessages?: string[],
    ) =>
      new ServiceFunction(
        `${name}-${suffix}`,
        {
          description,
          callbackFactory,
          statements,
          logRetentionDays,
          environment: env,
          memorySize,
          timeout,
          expectedErrorMessages,
        },
        { parent: this },
      );

    const connectionFunctions = {
      authorizer: fn(
        "ws-authorizer",
        "WebSocket $connect token authorizer",
        webSocketAuthorizerEntrypoint,
        // One GetItem by the token's hash; nothing else of the table.
        [{ Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: args.tokensTable.arn }],
        { [ENV.tokensTable]: args.tokensTable.name },
        256,
        undefined,
        // An unknown token is refused by throwing this (a WebSocket handshake's only 401).
        [UNAUTHORIZED_MESSAGE],
      ),
      connect: fn("ws-connect", "WebSocket $connect", wsConnectEntrypoint, [
        { Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: connectionsTable.arn },
      ]),
      disconnect: fn("ws-disconnect", "WebSocket $disconnect", wsDisconnectEntrypoint, [removeConnections]),
      default: fn("ws-default", 'WebSocket $default ({"action": "sync"})', wsDefaultEntrypoint, [
        scanFlags,
        scanEvaluators,
        removeConnections,
        manageConnections,
      ]),
      snapshot: fn(
        "snapshot",
        "Sends each new connection the full flag set",
        snapshotEntrypoint,
        [
          scanFlags,
          scanEvaluators,
          removeConnections,
          manageConnections,
          toDeadLetters,
          ...streamReadStatements(connectionsTable.streamArn),
        ],
        environment,
        256,
        // Up to 100 new connections per batch, each a full scan and a post.
        STREAM_CONSUMER_TIMEOUT_SECONDS,
      ),
    };
    // Posts a fan-out's messages to one segment of the connections. The fan-out invokes its
    // workers all at once and waits for them, so batches stay in stream order; a failed worker, or
    // one that does not answer within FANOUT_WORKER_WAIT_MS, fails its messages in the fan-out's
    // batch, which the stream retries, then dead-letters. Its timeout is below the fan-out's, so a
    // slow worker cannot time the fan-out out (which would retry the whole batch).
    const fanoutWorker = fn(
      "fanout-worker",
      "Pushes a batch of changes to one segment of the connections",
      fanoutWorkerEntrypoint,
      [
        { Effect: "Allow", Action: ["dynamodb:Scan", "dynamodb:DeleteItem"], Resource: connectionsTable.arn },
        manageConnections,
      ],
      { [ENV.connectionsTable]: connectionsTable.name, [ENV.websocketEndpoint]: managementEndpoint },
      // As the fan-out: CPU-bound posting, one full vCPU.
      1769,
      FANOUT_WORKER_TIMEOUT_SECONDS,
    );
    const fanout = fn(
      "fanout",
      "Pushes every flag and evaluator change to every connection",
      fanoutEntrypoint,
      [
        {
          Effect: "Allow",
          Action: ["dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DescribeTable"],
          Resource: connectionsTable.arn,
        },
        scanEvaluators,
        manageConnections,
        toDeadLetters,
        { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: fanoutWorker.function.arn },
        ...streamReadStatements(args.flagsTable.streamArn, args.evaluatorsTable.streamArn),
      ],
      {
        ...environment,
        [ENV.fanoutWorker]: fanoutWorker.function.arn,
        [ENV.fanoutPostsPerInvocation]: String(args.fanoutPostsPerInvocation ?? POSTS_PER_INVOCATION),
        [ENV.fanoutMaxWorkers]: String(args.fanoutMaxWorkers ?? MAX_FANOUT_WORKERS),
      },
      // A fan-out is CPU-bound (signing and sending each post), not wait-bound: 1769 MB buys
      // one full vCPU. Measured here: 1.1–1.8 ms of CPU per post with the SDK client, 0.37–0.55 ms with
      // the signed poster (handlers/realtime/signedPoster.ts; BENCHMARKS.md).
      1769,
      STREAM_CONSUMER_TIMEOUT_SECONDS,
    );
    const functions = { ...connectionFunctions, fanoutWorker, fanout };

    const authorizer = new aws.apigatewayv2.Authorizer(
      `${name}-ws-authorizer`,
      {
        apiId: api.id,
        authorizerType: "REQUEST",
        authorizerUri: functions.authorizer.function.invokeArn,
        // No ?token= at all: API Gateway refuses the handshake without invoking the authorizer.
        identitySources: ["route.request.querystring.token"],
      },
      { parent: this },
    );
    new aws.lambda.Permission(
      `${name}-ws-invoke-authorizer`,
      {
        action: "lambda:InvokeFunction",
        principal: "apigateway.amazonaws.com",
        function: functions.authorizer.function.name,
        sourceArn: pulumi.interpolate`${api.executionArn}/authorizers/*`,
      },
      { parent: this },
    );

    const routes = [
      { key: "$connect", slug: "connect", fn: functions.connect, authorized: true },
      { key: "$disconnect", slug: "disconnect", fn: functions.disconnect, authorized: false },
      { key: "$default", slug: "default", fn: functions.default, authorized: false },
    ];
    const routeResources = routes.map(({ key, slug, fn: target, authorized }) => {
      const integration = new aws.apigatewayv2.Integration(
        `${name}-ws-${slug}`,
        // Lambda is always invoked with POST; the provider requires it to be stated for AWS_PROXY.
        {
          apiId: api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: target.function.invokeArn,
        },
        { parent: this },
      );
      new aws.lambda.Permission(
        `${name}-ws-invoke-${slug}`,
        {
          action: "lambda:InvokeFunction",
          principal: "apigateway.amazonaws.com",
          function: target.function.name,
          sourceArn: pulumi.interpolate`${api.executionArn}/*/${key}`,
        },
        { parent: this },
      );
      return new aws.apigatewayv2.Route(
        `${name}-ws-${slug}`,
        {
          apiId: api.id,
          routeKey: key,
          target: pulumi.interpolate`integrations/${integration.id}`,
          ...(authorized ? { authorizationType: "CUSTOM", authorizerId: authorizer.id } : {}),
        },
        { parent: this },
      );
    });

    // JSON access logs: one line per connect, message and disconnect (components/accessLogs.ts).
    const accessLogs = accessLogGroup(`${name}-ws-access-logs`, logRetentionDays, this);
    const executionLogs = executionLogGroup(
      `${name}-ws-execution-logs`,
      pulumi.interpolate`/aws/apigateway/${api.id}/${stageName}`,
      logRetentionDays,
      this,
    );
    const stage = new aws.apigatewayv2.Stage(
      `${name}-ws-stage`,
      {
        apiId: api.id,
        name: stageName,
        autoDeploy: true,
        accessLogSettings: { destinationArn: accessLogs.arn, format: WEBSOCKET_ACCESS_LOG_FORMAT },
        defaultRouteSettings: {
          throttlingRateLimit: args.throttleRateLimit ?? 100,
          throttlingBurstLimit: args.throttleBurstLimit ?? 200,
          loggingLevel: args.executionLogLevel ?? "ERROR",
          // Never message bodies in the logs: a `sync` carries nothing secret, but pushes carry flags.
          dataTraceEnabled: false,
        },
      },
      { parent: this, dependsOn: [...routeResources, executionLogs, ...(args.loggingPrerequisites ?? [])] },
    );

    const streamConsumer = (
      suffix: string,
      functionName: pulumi.Input<string>,
      eventSourceArn: pulumi.Input<string>,
      filters: readonly object[] = [],
    ) =>
      new aws.lambda.EventSourceMapping(
        `${name}-${suffix}-source`,
        {
          functionName,
          eventSourceArn,
          startingPosition: "LATEST",
          batchSize: STREAM_CONSUMER.batchSize,
          // One batch per shard at a time keeps each flag's changes in order.
          parallelizationFactor: 1,
          functionResponseTypes: ["ReportBatchItemFailures"],
          bisectBatchOnFunctionError: true,
          maximumRetryAttempts: STREAM_CONSUMER.maximumRetryAttempts,
          maximumRecordAgeInSeconds: STREAM_CONSUMER.maximumRecordAgeInSeconds,
          destinationConfig: { onFailure: { destinationArn: deadLetterQueue.arn } },
          ...(filters.length === 0
            ? {}
            : { filterCriteria: { filters: filters.map((pattern) => ({ pattern: JSON.stringify(pattern) })) } }),
        },
        { parent: this },
      );
    // Changes only: a read's or an evaluation's stamp invokes nothing (FLAGS_STREAM_FILTERS).
    streamConsumer("fanout", functions.fanout.function.name, args.flagsTable.streamArn, FLAGS_STREAM_FILTERS);
    streamConsumer("fanout-evaluators", functions.fanout.function.name, args.evaluatorsTable.streamArn, [
      EVALUATORS_FILTER,
    ]);
    streamConsumer("snapshot", functions.snapshot.function.name, connectionsTable.streamArn, [SNAPSHOT_FILTER]);

    this.api = api;
    this.stage = stage;
    this.connectionsTable = connectionsTable;
    this.deadLetterQueue = deadLetterQueue;
    this.functions = functions;
    this.websocketUrl = pulumi.interpolate`${api.apiEndpoint}/${stageName}`;
    this.registerOutputs({ websocketUrl: this.websocketUrl, connectionsTableName: connectionsTable.name });
  }
}
