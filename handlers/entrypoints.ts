/**
 * Lambda entrypoints: each builds its clients at cold start from the function's environment and
 * returns the handler. The Pulumi components pass these as `callbackFactory`.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { fromEnv } from "@aws-sdk/credential-provider-env";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { ChangeMessageVisibilityCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeAuditTransformHandler } from "./audit/transform";
import { makeRestAuthorizer, makeWebSocketAuthorizer } from "./auth/authorizers";
import { makeTokenTable } from "./auth/tokenTable";
import { makeWebhookDeliveryHandler } from "./events/delivery";
import { type WebhookConfig } from "./events/model";
import { makeChangeEventsHandler, makeDeliveryEnqueuer, makeEventBusPublisher } from "./events/publish";
import { makeEvaluatorReadRoutes, makeEvaluatorWriteRoutes } from "./evaluators/routes";
import { makeEvaluatorHistoryStore } from "./evaluators/history";
import { evaluatorsByName, makeEvaluatorReads, makeEvaluatorStore } from "./evaluators/store";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "./flags/routes";
import { historyTableFor } from "./flags/history";
import { makeHistoryRoutes } from "./flags/historyRoutes";
import { makeHistoryStore } from "./flags/historyStore";
import { makeFlagStore } from "./flags/store";
import { corsHeaders, errorBody, makeProxyHandler } from "./http";
import { type EventSink, makeEventStreamHandler, type EventStreamOpening } from "./ofrep/events";
import { makeDynamoFlagSetSource, makeFlagSetCache, FLAG_SET_CHECK_MS } from "./ofrep/flagSet";
import { makeEvaluationRecorder } from "./ofrep/lastEvaluated";
import { lambdaStreaming } from "./ofrep/lambdaStreaming";
import { makeOfrepRoutes } from "./ofrep/routes";
import { makeConnectionStore } from "./realtime/connections";
import {
  makeConnectHandler,
  makeDefaultHandler,
  makeDisconnectHandler,
  makeFanoutHandler,
  makeSnapshotHandler,
} from "./realtime/handlers";
import { type InvokeWorker, makeFanoutWorkerHandler, makeWorkerInvoker } from "./realtime/scaleout";
import { makeSignedPoster } from "./realtime/signedPoster";
import { FANOUT_CONCURRENCY, MAX_FANOUT_WORKERS } from "./realtime/table";
import { makeSettingsRoutes } from "./settings/routes";
import { makeEventBridgeClock, makeEventBridgeDisarm, type ScheduleClock } from "./schedules/clock";
import type { ScheduleRunEvent } from "./schedules/model";
import {
  cancelFlagSchedules,
  makeScheduleCancelRoutes,
  makeScheduleCreateRoutes,
  makeScheduleReadRoutes,
} from "./schedules/routes";
import { makeScheduleRunner } from "./schedules/runner";
import { makeRolloutReadRoutes, makeRolloutWriteRoutes } from "./rollouts/routes";
import { makeFlagSetReadRoutes, makeFlagSetWriteRoutes } from "./flagset/routes";
import { makeFlagSetReader, makeFlagSets } from "./flagset/service";
import { type AlarmStateChangeEvent, makeClockRunner } from "./rollouts/runner";
import type { RolloutStepEvent } from "./rollouts/model";
import { endFlagRollout, makeRollouts } from "./rollouts/service";
import { makeRolloutStore } from "./rollouts/store";
import { makeScheduleStore } from "./schedules/store";

/** Environment variable names the components set and the entrypoints read. */
export const ENV = {
  flagsTable: "FLAGS_TABLE_NAME",
  /** Shared evaluators, their reference counts and the flag-set version item. */
  evaluatorsTable: "EVALUATORS_TABLE_NAME",
  /** Every flag change's entry, written in the change's transaction; read by GET .../history. */
  historyTable: "HISTORY_TABLE_NAME",
  deletionParameter: "ALLOW_FLAG_DELETION_PARAMETER",
  /** The tokens table (auth/tokenTable.ts): one item per token, keyed by its SHA-256. */
  tokensTable: "TOKENS_TABLE_NAME",
  /** JSON array of allowed CORS origins; absent or `[]` means CORS off. */
  corsOrigins: "CORS_ORIGINS",
  connectionsTable: "CONNECTIONS_TABLE_NAME",
  /** `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`: where PostToConnection goes. */
  websocketEndpoint: "WEBSOCKET_ENDPOINT",
  /** ARN of the fan-out worker the fan-out consumer invokes and waits for; unset: no scale-out. */
  fanoutWorker: "FANOUT_WORKER_FUNCTION",
  /** Posts one fan-out invocation makes before it hands segments to workers (POSTS_PER_INVOCATION). */
  fanoutPostsPerInvocation: "FANOUT_POSTS_PER_INVOCATION",
  /** The most worker segments of one fan-out (MAX_FANOUT_WORKERS). */
  fanoutMaxWorkers: "FANOUT_MAX_WORKERS",
  /** The EventBridge bus change events go to (`eventBusName`; `default` is the account's). */
  eventBusName: "EVENT_BUS_NAME",
  /** The FIFO queue of webhook deliveries; unset: no webhooks configured. */
  webhookQueue: "WEBHOOK_QUEUE_URL",
  /** JSON array of the configured webhooks' ids (`webhookId(url)`): no URL, no secret. */
  webhookIds: "WEBHOOK_IDS",
  /** The SSM SecureString holding the webhooks' URLs and secrets (JSON), read by the delivery function. */
  webhooksParameter: "WEBHOOKS_PARAMETER",
  /** Scheduled changes (handlers/schedules), keyed (flagName, id). */
  schedulesTable: "SCHEDULES_TABLE_NAME",
  /** The EventBridge Scheduler schedule group holding one schedule per pending change. */
  scheduleGroup: "SCHEDULE_GROUP_NAME",
  /** The schedule runner's ARN: each schedule's target. */
  scheduleTarget: "SCHEDULE_TARGET_ARN",
  /** The role Scheduler invokes the runner with, passed explicitly (iam:PassRole). */
  scheduleRole: "SCHEDULE_ROLE_ARN",
  /** The queue a schedule's invocation goes to once its retries are spent. */
  scheduleDeadLetter: "SCHEDULE_DEAD_LETTER_ARN",
} as const;

/** How long the delivery function reuses the webhooks it read: a changed secret applies within this. */
export const WEBHOOKS_MAX_AGE_SECONDS = 300;

/** How long a read of `allow-flag-deletion` is reused: a flipped switch applies within this. */
export const DELETION_SETTING_MAX_AGE_SECONDS = 10;
/**
 * How long one instance reuses a token lookup's answer (a record, or that there is none). A revoked
 * token stops, and an added one starts, within this plus API Gateway's authorizer cache (30 s on
 * the REST API; the WebSocket authorizer is not cached): 90 s at worst on REST routes.
 */
export const TOKENS_MAX_AGE_SECONDS = 60;

/**
 * The client, with each of its AWS calls an X-Ray subsegment of the invocation's trace (the
 * functions trace actively). Outside Lambda (tests, the local runtime) the Tracer is off and the
 * client is returned as it is. HTTP requests are not captured: the fan-out's signed posts would be
 * thousands of subsegments per batch.
 */
function traced<T>(client: T): T {
  return new Tracer({ serviceName: "feature-flags", captureHTTPsRequests: false }).captureAWSv3Client(client);
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
  return value;
}

function corsOriginsFromEnv(): string[] {
  const raw = process.env[ENV.corsOrigins];
  return raw === undefined || raw === "" ? [] : (JSON.parse(raw) as string[]);
}

function proxyHandler(routes: Parameters<typeof makeProxyHandler>[0]) {
  return makeProxyHandler(routes, new Logger(), { corsOrigins: corsOriginsFromEnv() });
}

function flagStoreFromEnv() {
  return makeFlagStore({
    doc: documentClient(),
    tableName: requiredEnv(ENV.flagsTable),
    // Only writes use it (reference counts, flag-set version); reads of flags never touch it.
    evaluatorsTableName: process.env[ENV.evaluatorsTable] || undefined,
    historyTableName: process.env[ENV.historyTable] || undefined,
  });
}

function historyTableNameFromEnv() {
  return process.env[ENV.historyTable] || historyTableFor(requiredEnv(ENV.flagsTable));
}

function historyStoreFromEnv() {
  const tableName = requiredEnv(ENV.flagsTable);
  return makeHistoryStore({ doc: documentClient(), tableName, historyTableName: historyTableNameFromEnv() });
}

function evaluatorStoreFromEnv() {
  return makeEvaluatorStore({
    doc: documentClient(),
    tableName: requiredEnv(ENV.evaluatorsTable),
    historyTableName: historyTableNameFromEnv(),
  });
}

/** Reads of the evaluators only: the realtime functions have no history table. */
function evaluatorReadsFromEnv() {
  return makeEvaluatorReads({ doc: documentClient(), tableName: requiredEnv(ENV.evaluatorsTable) });
}

export function flagReadsEntrypoint() {
  const doc = documentClient();
  const evaluatorsTable = requiredEnv(ENV.evaluatorsTable);
  return proxyHandler({
    ...makeReadRoutes({ store: flagStoreFromEnv() }),
    ...makeHistoryRoutes({ history: historyStoreFromEnv() }),
    ...makeScheduleReadRoutes({ schedules: scheduleStoreFromEnv() }),
    ...makeRolloutReadRoutes({ rollouts: rolloutStoreFromEnv() }),
    ...makeFlagSetReadRoutes({
      flagSets: makeFlagSetReader({ doc, flagsTable: requiredEnv(ENV.flagsTable), evaluatorsTable }),
    }),
    ...makeEvaluatorReadRoutes({
      store: makeEvaluatorReads({ doc, tableName: evaluatorsTable }),
      history: makeEvaluatorHistoryStore({
        doc,
        tableName: evaluatorsTable,
        historyTableName: historyTableNameFromEnv(),
      }),
    }),
  });
}

export function flagWritesEntrypoint() {
  const flags = flagStoreFromEnv();
  // A rollout's start writes its first step and arms the next; its abort disarms it.
  const rollouts = makeRollouts({
    flags,
    rollouts: rolloutStoreFromEnv(),
    clock: eventBridgeClockFromEnv(requiredEnv(ENV.scheduleTarget)),
    holdRoundingSeconds: SCHEDULER_PRECISION_SECONDS,
    logger: new Logger(),
  });
  return proxyHandler({
    ...makeWriteRoutes({ store: flags }),
    ...makeEvaluatorWriteRoutes({ store: evaluatorStoreFromEnv() }),
    ...makeRolloutWriteRoutes({ rollouts }),
  });
}

/**
 * OFREP: a warm flag set per container, checked for changes every 250 ms (see ofrep/flagSet.ts).
 * The token records sign each caller's event-stream credential (ofrep/streamCredential.ts).
 */
export function ofrepEntrypoint() {
  const doc = documentClient();
  const flagsTable = requiredEnv(ENV.flagsTable);
  const logger = new Logger();
  const flagSet = makeFlagSetCache({
    source: makeDynamoFlagSetSource({ doc, flagsTable, evaluatorsTable: requiredEnv(ENV.evaluatorsTable) }),
  });
  const recorder = makeEvaluationRecorder({
    doc,
    tableName: flagsTable,
    onFailure: (flagName, error) => logger.warn("lastEvaluated not stamped", { flagName, error: error as Error }),
  });
  return makeProxyHandler(makeOfrepRoutes({ flagSet, recorder, tokens: tokensFromEnv() }), logger, {
    corsOrigins: corsOriginsFromEnv(),
  });
}

/**
 * How long one event stream lasts on AWS: below the 15 minutes API Gateway streams a response
 * and Lambda runs an invocation, so the stream ends cleanly and the EventSource reconnects (after
 * `retry`, with Last-Event-ID) rather than being cut.
 */
export const EVENT_STREAM_MAX_DURATION_MS = 14 * 60_000;
/** A comment line this often on a quiet stream: far inside API Gateway's 5-minute idle timeout. */
export const EVENT_STREAM_HEARTBEAT_MS = 25_000;

/**
 * OFREP event streams (GET /ofrep/v1/events), one per invocation, streamed through API Gateway
 * (`responseTransferMode: STREAM`, InvokeWithResponseStream). Each looks at its container's flag
 * set every 250 ms — one GetItem of the version item — and never builds a flag.
 */
export function eventsEntrypoint() {
  const logger = new Logger();
  const flagSet = makeFlagSetCache({
    source: makeDynamoFlagSetSource({
      doc: documentClient(),
      flagsTable: requiredEnv(ENV.flagsTable),
      evaluatorsTable: requiredEnv(ENV.evaluatorsTable),
    }),
    build: false,
  });
  const open = makeEventStreamHandler({
    flagSet,
    tokens: tokensFromEnv(),
    logger,
    pollMs: FLAG_SET_CHECK_MS,
    maxDurationMs: EVENT_STREAM_MAX_DURATION_MS,
    heartbeatMs: EVENT_STREAM_HEARTBEAT_MS,
    maxBufferedBytes: 64 * 1024,
  });
  const corsOrigins = corsOriginsFromEnv();
  const streaming = lambdaStreaming();
  return streaming.streamifyResponse<APIGatewayProxyEvent>(async (event, responseStream) => {
    const headers = Object.fromEntries(
      Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value ?? undefined]),
    );
    const header = (name: string) => headers[name.toLowerCase()];
    const cors = corsHeaders(header("Origin"), corsOrigins);
    let opening: EventStreamOpening;
    try {
      opening = await open({ query: event.queryStringParameters ?? {}, header });
    } catch (error) {
      logger.error("event stream refused: the token records could not be read", { error: error as Error });
      opening = {
        status: 503,
        headers: { "Content-Type": "application/json", "Retry-After": "1" },
        body: errorBody("DEPENDENCY_UNAVAILABLE", "the service is unavailable; retry shortly"),
      };
    }
    // The prelude (status and headers) first; everything after it is the body.
    const stream = streaming.HttpResponseStream.from(responseStream, {
      statusCode: opening.status,
      headers: { ...opening.headers, ...cors },
    });
    // A client gone while a write is pending surfaces as an error on the stream: it ends the
    // stream (onClose), never the process.
    stream.on("error", (error: Error) => logger.warn("event stream broken", { error }));
    if (opening.status !== 200) {
      stream.end(JSON.stringify(opening.body));
      return;
    }
    const sink: EventSink = {
      write: (text) => {
        if (!stream.destroyed && !stream.writableEnded) stream.write(text);
      },
      buffered: () => stream.writableLength,
      end: () => {
        if (!stream.writableEnded) stream.end();
      },
      onClose: (listener) => {
        stream.once("close", listener);
      },
    };
    // Awaited to its end: from Node.js 24 Lambda does not wait for work left after the handler returns.
    await opening.stream(sink);
  });
}

function scheduleStoreFromEnv() {
  return makeScheduleStore({
    doc: documentClient(),
    tableName: requiredEnv(ENV.schedulesTable),
    flagsTableName: requiredEnv(ENV.flagsTable),
  });
}

function rolloutStoreFromEnv() {
  return makeRolloutStore({
    doc: documentClient(),
    tableName: requiredEnv(ENV.schedulesTable),
    flagsTableName: requiredEnv(ENV.flagsTable),
  });
}

/**
 * EventBridge Scheduler runs a schedule within the minute it is due: a rollout step's hold is
 * rounded up to whole minutes on AWS (CONTRACT.md).
 */
const SCHEDULER_PRECISION_SECONDS = 60;

/** One-time schedules in the stack's group, invoking `targetArn` (the runner) with its role. */
function eventBridgeClockFromEnv(targetArn: string) {
  return makeEventBridgeClock({
    client: traced(new SchedulerClient({})),
    groupName: requiredEnv(ENV.scheduleGroup),
    targetArn,
    roleArn: requiredEnv(ENV.scheduleRole),
    deadLetterArn: requiredEnv(ENV.scheduleDeadLetter),
  });
}

/** `POST`/`GET /flags/{flagName}/schedules`, `DELETE .../schedules/{id}`: each pending one an EventBridge schedule. */
export function schedulesEntrypoint() {
  const clock = eventBridgeClockFromEnv(requiredEnv(ENV.scheduleTarget));
  return proxyHandler(makeScheduleCreateRoutes({ schedules: scheduleStoreFromEnv(), clock }));
}

/** A function's own ARN, unqualified, from its invocation's context. */
const unqualifiedArn = (invokedFunctionArn: string): string => invokedFunctionArn.split(":").slice(0, 7).join(":");

/**
 * The runner EventBridge Scheduler and the guard alarm rule invoke: a schedule's change
 * (`{"scheduleId", "flagName"}`), a rollout's next step (`{"rolloutStep"}`), or a CloudWatch alarm's
 * state change (aborting the rollouts it guards). A step arms the next one with the runner itself
 * as the target: its own ARN comes from the invocation (as an environment variable it would be a
 * cycle in the program).
 */
export function scheduleRunnerEntrypoint() {
  const logger = new Logger();
  const flags = flagStoreFromEnv();
  const schedule = makeScheduleRunner({ flags, schedules: scheduleStoreFromEnv(), logger });
  // The runner's own ARN, from its invocation: only arming a next step needs it.
  let invokedArn: string | undefined;
  let arming: ScheduleClock | undefined;
  const clock: ScheduleClock = {
    arm: (target) => {
      if (invokedArn === undefined) throw new Error("cannot arm a rollout step without the invocation's context");
      arming ??= eventBridgeClockFromEnv(unqualifiedArn(invokedArn));
      return arming.arm(target);
    },
    disarm: makeEventBridgeDisarm({
      client: traced(new SchedulerClient({})),
      groupName: requiredEnv(ENV.scheduleGroup),
    }).disarm,
  };
  const rollouts = makeRollouts({
    flags,
    rollouts: rolloutStoreFromEnv(),
    clock,
    holdRoundingSeconds: SCHEDULER_PRECISION_SECONDS,
    logger,
  });
  const run = makeClockRunner({ schedule, rollouts, logger });
  return (event: ScheduleRunEvent | RolloutStepEvent | AlarmStateChangeEvent, context?: Context) => {
    if (typeof context?.invokedFunctionArn === "string") invokedArn ??= context.invokedFunctionArn;
    return run(event);
  };
}

export function flagDeleteEntrypoint() {
  const parameterName = requiredEnv(ENV.deletionParameter);
  const ssm = new SSMProvider({ awsSdkV3Client: traced(new SSMClient({})) });
  const isDeletionAllowed = async () =>
    (await ssm.get(parameterName, { maxAge: DELETION_SETTING_MAX_AGE_SECONDS })) === "true";
  // A deleted flag's pending schedules are cancelled, and their EventBridge schedules deleted; its
  // running rollout ends, and its next step's schedule is deleted.
  const schedules = scheduleStoreFromEnv();
  const rollouts = rolloutStoreFromEnv();
  const clock = makeEventBridgeDisarm({
    client: traced(new SchedulerClient({})),
    groupName: requiredEnv(ENV.scheduleGroup),
  });
  return proxyHandler({
    ...makeDeleteRoutes({
      store: flagStoreFromEnv(),
      isDeletionAllowed,
      onDeleted: async (flagName, actor) => {
        await cancelFlagSchedules({ schedules, clock }, flagName, actor);
        await endFlagRollout({ rollouts, clock }, flagName, actor);
      },
    }),
    ...makeScheduleCancelRoutes({ schedules, clock }),
    // The same cached read: the console's Delete is enabled exactly when DELETE would be.
    ...makeSettingsRoutes({ isDeletionAllowed }),
  });
}

/**
 * `PUT /flagset`: an import creates, updates and (with prune) deletes flags and evaluators, as
 * the write and delete functions do, reading the deletion switch as DELETE does; a flag it deletes
 * has its schedules cancelled and its rollout ended.
 */
export function flagSetImportEntrypoint() {
  const doc = documentClient();
  const parameterName = requiredEnv(ENV.deletionParameter);
  const ssm = new SSMProvider({ awsSdkV3Client: traced(new SSMClient({})) });
  const schedules = scheduleStoreFromEnv();
  const rollouts = rolloutStoreFromEnv();
  const clock = makeEventBridgeDisarm({
    client: traced(new SchedulerClient({})),
    groupName: requiredEnv(ENV.scheduleGroup),
  });
  return proxyHandler(
    makeFlagSetWriteRoutes({
      flagSets: makeFlagSets({
        doc,
        flagsTable: requiredEnv(ENV.flagsTable),
        evaluatorsTable: requiredEnv(ENV.evaluatorsTable),
        flags: flagStoreFromEnv(),
        evaluators: evaluatorStoreFromEnv(),
        isDeletionAllowed: async () =>
          (await ssm.get(parameterName, { maxAge: DELETION_SETTING_MAX_AGE_SECONDS })) === "true",
        onFlagDeleted: async (flagName, actor) => {
          await cancelFlagSchedules({ schedules, clock }, flagName, actor);
          await endFlagRollout({ rollouts, clock }, flagName, actor);
        },
      }),
    }),
  );
}

/** Token records from the tokens table: a GetItem per token (by id, a Query), cached per instance. */
function tokensFromEnv() {
  return makeTokenTable({
    doc: documentClient(),
    tableName: requiredEnv(ENV.tokensTable),
    maxAgeSeconds: TOKENS_MAX_AGE_SECONDS,
  });
}

export function restAuthorizerEntrypoint() {
  return makeRestAuthorizer({ tokens: tokensFromEnv() });
}

export function webSocketAuthorizerEntrypoint() {
  return makeWebSocketAuthorizer({ tokens: tokensFromEnv() });
}

function documentClient() {
  return DynamoDBDocumentClient.from(traced(new DynamoDBClient({})));
}

function connectionStoreFromEnv() {
  return makeConnectionStore({ doc: documentClient(), tableName: requiredEnv(ENV.connectionsTable) });
}

function posterFromEnv() {
  // PostToConnection as a SigV4-signed POST over a keep-alive agent with enough sockets for the
  // fan-out's concurrency: a fraction of the SDK client's CPU per post (BENCHMARKS.md, fan-out).
  // Parallel workers can meet API Gateway's account throttle (429): the poster backs off and
  // tries again (6 attempts) rather than fail the segment, which would repost it whole.
  return makeSignedPoster({
    endpoint: requiredEnv(ENV.websocketEndpoint),
    region: requiredEnv("AWS_REGION"),
    credentials: fromEnv(),
    maxSockets: FANOUT_CONCURRENCY,
  });
}

export function wsConnectEntrypoint() {
  return makeConnectHandler({ connections: connectionStoreFromEnv() });
}

export function wsDisconnectEntrypoint() {
  return makeDisconnectHandler({ connections: connectionStoreFromEnv() });
}

function snapshotDepsFromEnv() {
  return {
    flags: flagStoreFromEnv(),
    connections: connectionStoreFromEnv(),
    post: posterFromEnv(),
    logger: new Logger(),
    evaluators: evaluatorsByName(evaluatorReadsFromEnv()),
  };
}

export function wsDefaultEntrypoint() {
  return makeDefaultHandler(snapshotDepsFromEnv());
}

export function snapshotEntrypoint() {
  return makeSnapshotHandler(snapshotDepsFromEnv());
}

/**
 * Runs the fan-out worker and waits for it (InvocationType RequestResponse): a failed worker
 * (FunctionError) or a refused invoke rejects, and the stream retries the batch.
 */
function workerInvokerFromEnv(): InvokeWorker | undefined {
  const functionName = process.env[ENV.fanoutWorker];
  if (functionName === undefined || functionName === "") return undefined;
  const lambda = traced(
    new LambdaClient({
      // One connection per worker running at once, each held until its worker answers (at most
      // FANOUT_WORKER_WAIT_MS, below the consumer's own timeout).
      requestHandler: { httpsAgent: { maxSockets: MAX_FANOUT_WORKERS, keepAlive: true } },
    }),
  );
  // RequestResponse, not Event: waiting keeps the stream's order and hands a worker's failure to
  // the consumer's batch, which the stream retries (an Event invoke's failure would only reach a
  // destination, after Lambda's own retries, out of order).
  return makeWorkerInvoker((payload, abortSignal) =>
    lambda.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", Payload: payload }),
      { abortSignal },
    ),
  );
}

const positiveIntegerEnv = (name: string): number | undefined => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : undefined;
};

export function fanoutEntrypoint() {
  return makeFanoutHandler({
    connections: connectionStoreFromEnv(),
    post: posterFromEnv(),
    logger: new Logger(),
    evaluators: evaluatorReadsFromEnv().state,
    invokeWorker: workerInvokerFromEnv(),
    limits: {
      postsPerInvocation: positiveIntegerEnv(ENV.fanoutPostsPerInvocation),
      maxWorkers: positiveIntegerEnv(ENV.fanoutMaxWorkers),
    },
  });
}

export function fanoutWorkerEntrypoint() {
  return makeFanoutWorkerHandler({
    connections: connectionStoreFromEnv(),
    post: posterFromEnv(),
    logger: new Logger(),
  });
}

export function auditTransformEntrypoint() {
  return makeAuditTransformHandler({ logger: new Logger() });
}

/**
 * SQS at the region's endpoint (or AWS_ENDPOINT_URL_SQS), not the host of each request's QueueUrl:
 * the same host on AWS, and a stand-in in tests.
 */
function sqsClient() {
  return traced(new SQSClient({ useQueueUrlAsEndpoint: false }));
}

/** The audit Pipes' enrichment: each change to the event bus and, in order, to each webhook's queue. */
export function changeEventsEntrypoint() {
  const queueUrl = process.env[ENV.webhookQueue] || undefined;
  const webhooks = queueUrl === undefined ? [] : (JSON.parse(requiredEnv(ENV.webhookIds)) as string[]);
  return makeChangeEventsHandler({
    publish: makeEventBusPublisher(traced(new EventBridgeClient({})), requiredEnv(ENV.eventBusName)),
    enqueue: queueUrl === undefined ? undefined : makeDeliveryEnqueuer(sqsClient(), queueUrl),
    webhooks,
  });
}

/** Delivers queued change events to the webhooks, whose URLs and secrets it reads from SSM (decrypted). */
export function webhookDeliveryEntrypoint() {
  const parameterName = requiredEnv(ENV.webhooksParameter);
  const queueUrl = requiredEnv(ENV.webhookQueue);
  const ssm = new SSMProvider({ awsSdkV3Client: traced(new SSMClient({})) });
  const sqs = sqsClient();
  return makeWebhookDeliveryHandler({
    webhooks: async () =>
      JSON.parse(
        (await ssm.get(parameterName, { decrypt: true, maxAge: WEBHOOKS_MAX_AGE_SECONDS })) ?? "[]",
      ) as WebhookConfig[],
    retryLater: async (receiptHandle, seconds) => {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    logger: new Logger(),
  });
}
