import * as pulumi from "@pulumi/pulumi";
import { buildConsole } from "./console/build";
import {
  ApiGatewayAccount,
  AuditPipeline,
  ChangeEvents,
  Compliance,
  ConsoleSite,
  FlagApi,
  Observability,
  Realtime,
} from "./components";
import type { TokenConfig } from "./handlers/auth/tokens";
import { type WebhookConfig, parseWebhooks } from "./handlers/events/model";
import { retrySpanSeconds } from "./handlers/events/retry";

const config = new pulumi.Config();

/**
 * The secret `apiTokens` as its plain value, read from the runtime rather than `config.getObject`
 * (which warns on every run that the value is a secret): FlagApi needs the token ids to name one
 * table item per token when the program runs. The tokens stay in this process; only their hashes
 * are registered, each a secret in state.
 */
function apiTokensConfig(): TokenConfig[] | undefined {
  const raw = pulumi.runtime.getConfig(`${pulumi.getProject()}:apiTokens`);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as TokenConfig[];
  } catch {
    throw new Error('apiTokens must be JSON: [{"id": "...", "token": "...", "scopes": ["read"]}]');
  }
}
/**
 * The secret `webhooks` as its plain value, read from the runtime as `apiTokens` is: ChangeEvents
 * checks each entry and derives each webhook's id from its URL when the program runs; the URLs and
 * secrets reach AWS only inside an SSM SecureString, a secret in state.
 */
function webhooksConfig(): WebhookConfig[] {
  return parseWebhooks(pulumi.runtime.getConfig(`${pulumi.getProject()}:webhooks`), "webhooks");
}
const project = pulumi.getProject();
const stack = pulumi.getStack();

// The console's files and API Gateway's reader of them come before the API that serves them; the
// WebSocket URL they name (config.json, CSP) exists only once Realtime does, hence a deferred output.
const [consoleWebsocketUrl, resolveConsoleWebsocketUrl] = pulumi.deferredOutput<string>();
const stageName = stack.replace(/[^A-Za-z0-9_-]/g, "-");
const consoleSite = new ConsoleSite(`${project}-${stack}`, {
  build: buildConsole(),
  basePath: `/${stageName}/console/`,
  websocketUrl: consoleWebsocketUrl,
});

// Both stages log (access and execution logs), which needs the account's API Gateway CloudWatch
// role: created with `createApiGatewayAccountRole`, otherwise checked for at preview.
const apiGatewayAccount = new ApiGatewayAccount(`${project}-${stack}`, {
  createRole: config.getBoolean("createApiGatewayAccountRole") ?? false,
});
const executionLogLevel = config.get("executionLogLevel") ?? "ERROR";
if (executionLogLevel !== "ERROR" && executionLogLevel !== "INFO") {
  throw new Error(`executionLogLevel '${executionLogLevel}' must be ERROR or INFO`);
}

const flagApi = new FlagApi(`${project}-${stack}`, {
  allowFlagDeletion: config.getBoolean("allowFlagDeletion") ?? true,
  parameterPrefix: `/${project}/${stack}`,
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
  executionLogLevel,
  loggingPrerequisites: apiGatewayAccount.ready,
  // `apiTokens` (secret): [{"id", "token", "scopes"}], scopes a non-empty subset of SCOPES:
  // `write` (everything), `read` (GET routes, OFREP, the WebSocket) and `evaluate` (a client key,
  // safe in a web page: OFREP on flags with `clientSide: true`, 403 everywhere else). Only the
  // tokens' SHA-256 hashes reach AWS.
  apiTokens: apiTokensConfig(),
  corsOrigins: config.getObject<string[]>("corsOrigins"),
  ofrepRateLimit: config.getNumber("ofrepRateLimit"),
  rateLimit: config.getNumber("rateLimit"),
  eventStreamConcurrency: config.getNumber("eventStreamConcurrency"),
  traceSampleRate: config.getNumber("traceSampleRate"),
  stageName,
  console: { bucketName: consoleSite.bucketName, roleArn: consoleSite.roleArn, websocketUrl: consoleWebsocketUrl },
});

const realtime = new Realtime(`${project}-${stack}`, {
  flagsTable: { name: flagApi.tableName, arn: flagApi.tableArn, streamArn: flagApi.tableStreamArn },
  evaluatorsTable: {
    name: flagApi.evaluatorsTable.name,
    arn: flagApi.evaluatorsTable.arn,
    streamArn: flagApi.evaluatorsTable.streamArn,
  },
  tokensTable: { name: flagApi.tokensTableName, arn: flagApi.tokensTable.arn },
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
  executionLogLevel,
  loggingPrerequisites: apiGatewayAccount.ready,
});

resolveConsoleWebsocketUrl(realtime.websocketUrl);

// Every change on EventBridge and to each webhook, from the audit Pipes' enrichment step.
const changeEvents = new ChangeEvents(`${project}-${stack}`, {
  eventBusName: config.get("eventBusName") ?? "default",
  webhooks: webhooksConfig(),
  parameterPrefix: `/${project}/${stack}`,
  tables: [{ arn: flagApi.tableArn }, { arn: flagApi.evaluatorsTable.arn }],
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
});

const audit = new AuditPipeline(`${project}-${stack}`, {
  flagsTable: { arn: flagApi.tableArn, streamArn: flagApi.tableStreamArn },
  evaluatorsTable: { arn: flagApi.evaluatorsTable.arn, streamArn: flagApi.evaluatorsTable.streamArn },
  // `read` lines from the REST access logs: a read writes nothing to the table.
  readLogGroup: { name: flagApi.accessLogGroup.name },
  retentionDays: config.getNumber("auditRetentionDays") ?? 365,
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
  enrichment: { arn: changeEvents.enrichment.function.arn },
});

// After the components with functions: it watches every function created before it.
const observability = new Observability(`${project}-${stack}`, {
  restApi: { name: flagApi.api.name, stageName: flagApi.stage.stageName },
  // Latency per route group: each group's function (the event stream lasts minutes by design, so
  // its Duration is not a latency) and the authorizer (on a cache miss it adds to a request's).
  routeGroups: {
    read: flagApi.functions.read,
    write: flagApi.functions.write,
    delete: flagApi.functions.delete,
    schedules: flagApi.functions.schedules,
    ofrep: flagApi.functions.ofrep,
    authorizer: flagApi.authorizer,
  },
  webSocketApi: { id: realtime.api.id, stageName: realtime.stage.name },
  streamConsumers: [realtime.functions.fanout, realtime.functions.snapshot],
  deadLetterQueues: [
    realtime.deadLetterQueue,
    audit.deadLetterQueue,
    flagApi.schedules.deadLetterQueue,
    ...(changeEvents.deadLetterQueue === undefined ? [] : [changeEvents.deadLetterQueue]),
  ],
  // Webhook deliveries: a delivery is retried for retrySpanSeconds() (76 min) and then
  // dead-lettered, so an older message means the delivery function is not consuming at all.
  workQueues:
    changeEvents.deliveryQueue === undefined
      ? []
      : [{ queue: changeEvents.deliveryQueue, maxAgeSeconds: retrySpanSeconds() + 15 * 60 }],
  deliveryStreams: [audit.deliveryStream],
  alarmEmail: config.get("alarmEmail"),
});

// The rule watches every bucket in the account and region, other teams' too: `publicBucketsAllowed`
// names the ones meant to be public, and `autoRemediate: false` turns fixing into reporting.
new Compliance(`${project}-${stack}`, {
  createConfigRecorder: config.getBoolean("createConfigRecorder") ?? false,
  excludedBuckets: config.getObject<string[]>("publicBucketsAllowed"),
  autoRemediate: config.getBoolean("autoRemediate") ?? true,
});

export const apiUrl = flagApi.apiUrl;
export const consoleUrl = flagApi.consoleUrl;
export const websocketUrl = realtime.websocketUrl;
export const flagsTableName = flagApi.tableName;
export const tokensTableName = flagApi.tokensTableName;
export const allowFlagDeletionParameter = flagApi.allowFlagDeletionParameter;
export const alarmTopicArn = observability.alarmTopicArn;
export const auditBucketName = audit.auditBucketName;
export const athenaWorkgroup = audit.workgroup.name;
export const changeEventBusArn = changeEvents.eventBusArn;
/** Paste into a rule's event pattern to match this stack's change events only (README, "Change events"). */
export const changeEventPattern = changeEvents.eventPattern;
/** The function delivering webhooks (none without `webhooks`): its log holds each failed attempt (WARN). */
export const webhookDeliveryFunction = changeEvents.delivery?.function.name;
export const auditTable = pulumi.interpolate`${audit.database.name}.${audit.table.name}`;
