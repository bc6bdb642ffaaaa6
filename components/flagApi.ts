import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TOKENS_TABLE, tokenItem } from "../handlers/auth/tokenTable";
import { type TokenConfig, type TokenRecord, toTokenRecords } from "../handlers/auth/tokens";
import {
  ENV,
  eventsEntrypoint,
  flagDeleteEntrypoint,
  flagReadsEntrypoint,
  flagWritesEntrypoint,
  ofrepEntrypoint,
  restAuthorizerEntrypoint,
  schedulesEntrypoint,
  flagSetImportEntrypoint,
} from "../handlers/entrypoints";
import { EVALUATORS_TABLE } from "../handlers/evaluators/table";
import { HISTORY_TABLE } from "../handlers/flags/history";
import { STAMP_ATTRIBUTE } from "../handlers/flags/stamp";
import { FLAGS_TABLE } from "../handlers/flags/table";
import { DEFAULT_OFREP_RATE_LIMIT } from "../handlers/http";
import { ROUTES, type RouteGroup } from "../handlers/routes";
import { consoleCsp } from "../console/csp";
import { type ConsoleRoutesArgs, restApiSpec } from "./restApiSpec";
import { Schedules } from "./schedules";
import { serviceTable } from "./serviceTable";
import { ServiceFunction } from "./serviceFunction";
import { REST_ACCESS_LOG_FORMAT, accessLogGroup, executionLogGroup } from "./accessLogs";
import { DEFAULT_RATE_LIMIT, stageWebAcl } from "./webAcl";

/** Share of the REST stage's requests beyond the first each second that X-Ray traces. */
export const DEFAULT_TRACE_SAMPLE_RATE = 0.005;

export interface FlagApiArgs {
  /** Whether DELETE is allowed; the value of the `allow-flag-deletion` parameter. Default true. */
  allowFlagDeletion?: pulumi.Input<boolean>;
  /**
   * Path prefix of the SSM parameters, so each project and stack gets its own.
   * @example "/feature-flags/prod"
   */
  parameterPrefix: string;
  /** Retention of every function's log group and of the stage's access logs, in days. Default 30. */
  logRetentionDays?: number;
  /**
   * The stage's execution logging (API Gateway's own log group `API-Gateway-Execution-Logs_{api-id}/{stage}`):
   * `ERROR` (default) logs failed requests only; `INFO` every request's steps, at a CloudWatch Logs
   * cost per request. Bodies and headers are never logged (data tracing off).
   */
  executionLogLevel?: "ERROR" | "INFO";
  /**
   * Resources the stage's logging needs first: the account's API Gateway CloudWatch role
   * (ApiGatewayAccount), or the check that it is there (ApiGatewayAccountCheck).
   */
  loggingPrerequisites?: pulumi.Resource[];
  /** API Gateway stage name. Default: the stack name. */
  stageName?: string;
  /**
   * Put an AWS WAF web ACL in front of the stage that refuses bodies over 64 KiB with the
   * contract's 413 before they reach Lambda (which fails, as a 5xx, on payloads over 6 MB).
   * Costs about $6/month plus $0.60 per million requests. Default true.
   */
  requestBodyLimit?: boolean;
  /**
   * Requests per source IP per minute that OFREP paths (`/ofrep/v1/...`) admit; beyond it, a WAF
   * rate-based rule answers 429 THROTTLED with Retry-After. Client keys are public, so anyone can
   * call OFREP: this bounds what one address costs. 0 turns the rule off; otherwise at least 10
   * (WAF's lowest). Raise it for servers that evaluate over OFREP from one address. Default 1000.
   */
  ofrepRateLimit?: number;
  /**
   * Requests per source IP per minute that any path admits (`/health`, which needs no token,
   * included); beyond it, a WAF rate-based rule answers 429 THROTTLED with Retry-After. The stage's
   * throttle is shared by every client: this keeps one address from using it all up. 0 turns the
   * rule off; otherwise at least 10. Default DEFAULT_RATE_LIMIT (3,000: half the stage's default
   * throttle of 100 requests per second).
   */
  rateLimit?: number;
  /** Steady-state requests per second the stage admits. Default 100. */
  throttleRateLimit?: number;
  /** Burst of requests the stage admits above the rate. Default 200. */
  throttleBurstLimit?: number;
  /** Refuse to delete the flags table (also in `pulumi destroy`). Default true. */
  tableDeletionProtection?: boolean;
  /**
   * The stack's API tokens, as a plain array: their ids name one table item each, which must be
   * known when the program runs (resources are never created inside an apply). Only their SHA-256
   * hashes, with ids and scopes, reach AWS, each item a secret in Pulumi's state (see index.ts for
   * reading the secret config value). More can be added (and any revoked) in the tokens table
   * without a redeploy (README, "Tokens"; handlers/auth/tokenTable.ts says why a table). None means
   * every request but `/health` is refused, unless the table holds tokens added that way.
   */
  apiTokens?: readonly TokenConfig[];
  /** Seconds API Gateway caches an authorizer answer per token. Default 30. */
  authorizerTtlSeconds?: number;
  /**
   * Origins allowed by CORS. Default none: CORS off.
   * @example ["https://admin.example.com"]
   */
  corsOrigins?: string[];
  /**
   * Concurrent executions reserved for the OFREP event-stream function, which is also the most
   * OFREP event streams (open browser tabs) the stack serves at once: each open stream is one
   * invocation for up to 14 minutes. Reserved so that streams cannot take the concurrency every
   * other function needs (the account's default is 1,000; Lambda keeps 100 unreserved). A stream
   * over the cap is refused (the official OFREP web provider retries it with backoff). Default 100.
   */
  eventStreamConcurrency?: number;
  /**
   * Share of the REST stage's requests X-Ray traces beyond the first each second (the stage's own
   * sampling rule; the functions API Gateway invokes follow its decision). X-Ray bills $5 per
   * million traces: its default rule (5 %) would add $0.25 to every million requests, more than a
   * DynamoDB read. Between 0 and 1. Default DEFAULT_TRACE_SAMPLE_RATE (0.5 %).
   */
  traceSampleRate?: number;
  /**
   * Serve the web console (a ConsoleSite's bucket and reader role) at the API's URL + `/console/`,
   * its files without a token. Default: no console routes.
   */
  console?: FlagApiConsoleArgs;
}

export interface FlagApiConsoleArgs {
  /** Bucket holding the console's files under `console/`. */
  bucketName: pulumi.Input<string>;
  /** Role API Gateway assumes to read them (s3:GetObject under `console/`). */
  roleArn: pulumi.Input<string>;
  /** The WebSocket URL the console connects to: its origin is allowed by the console's CSP. */
  websocketUrl: pulumi.Input<string>;
}

/**
 * The flag store and its REST API: a DynamoDB table with a change stream, an API Gateway REST API
 * whose routes are served by one least-privilege Lambda per route group, and the
 * `allow-flag-deletion` parameter that DELETE consults.
 */
export class FlagApi extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;
  /** Shared evaluators, their reference counts and the flag-set version item; stream on. */
  readonly evaluatorsTable: aws.dynamodb.Table;
  /** Every flag and evaluator change (flagName or `$evaluator/<name>`, seq), written in the change's own transaction. */
  readonly historyTable: aws.dynamodb.Table;
  readonly deletionParameter: aws.ssm.Parameter;
  readonly functions: Readonly<Record<RouteGroup, ServiceFunction>>;
  readonly api: aws.apigateway.RestApi;
  readonly stage: aws.apigateway.Stage;
  /** The REST stage's access log group (components/accessLogs.ts); the audit trail's reads come from it. */
  readonly accessLogGroup: aws.cloudwatch.LogGroup;
  /** Base URL of the REST API, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/dev`. */
  readonly apiUrl: pulumi.Output<string>;
  readonly tableName: pulumi.Output<string>;
  readonly tableArn: pulumi.Output<string>;
  /** The flags table's stream, for the realtime and audit consumers. */
  readonly tableStreamArn: pulumi.Output<string>;
  /** Name (path) of the `allow-flag-deletion` SSM parameter. */
  readonly allowFlagDeletionParameter: pulumi.Output<string>;
  /** The tokens table (hashes, ids, scopes); the WebSocket authorizer reads it too. */
  readonly tokensTable: aws.dynamodb.Table;
  /** The tokens table's name, known once `apiTokens`' items are written: what functions are given. */
  readonly tokensTableName: pulumi.Output<string>;
  readonly authorizer: ServiceFunction;
  /** Scheduled changes: their table, EventBridge Scheduler group, runner and dead-letter queue. */
  readonly schedules: Schedules;
  /** The web console's address (the API's URL + `/console/`); undefined without `console`. */
  readonly consoleUrl: pulumi.Output<string> | undefined;

  constructor(name: string, args: FlagApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:flagApi:FlagApi", name, {}, opts);
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(args.parameterPrefix)) {
      throw new pulumi.ResourceError(
        `parameterPrefix '${args.parameterPrefix}' must be an SSM path such as /feature-flags/dev`,
        this,
      );
    }
    const corsOrigins = args.corsOrigins ?? [];
    for (const origin of corsOrigins) {
      if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(origin)) {
        throw new pulumi.ResourceError(
          `corsOrigins entry '${origin}' must be an origin such as https://app.example.com (scheme and host, no path, no '*')`,
          this,
        );
      }
    }
    let tokenRecords: TokenRecord[];
    try {
      // Hashed here and now: nothing of the plaintext tokens is kept, passed on or registered.
      tokenRecords = toTokenRecords(args.apiTokens ?? []);
    } catch (error) {
      throw new pulumi.ResourceError((error as Error).message, this);
    }
    const eventStreamConcurrency = args.eventStreamConcurrency ?? 100;
    if (!Number.isInteger(eventStreamConcurrency) || eventStreamConcurrency < 1) {
      throw new pulumi.ResourceError(
        `eventStreamConcurrency ${eventStreamConcurrency} must be a whole number of concurrent executions, at least 1`,
        this,
      );
    }
    const traceSampleRate = args.traceSampleRate ?? DEFAULT_TRACE_SAMPLE_RATE;
    if (!(traceSampleRate >= 0 && traceSampleRate <= 1)) {
      throw new pulumi.ResourceError(`traceSampleRate ${traceSampleRate} must be between 0 and 1`, this);
    }
    const logRetentionDays = args.logRetentionDays ?? 30;
    const executionLogLevel = args.executionLogLevel ?? "ERROR";
    if (executionLogLevel !== "ERROR" && executionLogLevel !== "INFO") {
      throw new pulumi.ResourceError(`executionLogLevel '${String(executionLogLevel)}' must be ERROR or INFO`, this);
    }
    // Stack names may hold '.', which stage names may not.
    const stageName = args.stageName ?? pulumi.getStack().replace(/[^A-Za-z0-9_-]/g, "-");

    const tableOptions = { deletionProtection: args.tableDeletionProtection ?? true, parent: this };
    const createTable = () => serviceTable(`${name}-flags`, FLAGS_TABLE, tableOptions);
    const createEvaluatorsTable = () => serviceTable(`${name}-evaluators`, EVALUATORS_TABLE, tableOptions);
    // No stream: its items are written in the flag write's transaction, whose stream has it all.
    const createHistoryTable = () => serviceTable(`${name}-history`, HISTORY_TABLE, tableOptions);

    const createDeletionParameter = () =>
      new aws.ssm.Parameter(
        `${name}-allow-flag-deletion`,
        {
          name: `${args.parameterPrefix}/allow-flag-deletion`,
          type: "String",
          // insecureValue: not a secret, so `pulumi preview` shows the switch being flipped.
          insecureValue: pulumi.output(args.allowFlagDeletion ?? true).apply((allowed) => (allowed ? "true" : "false")),
          description: "Whether DELETE /flags/{flagName} is allowed. Set with `pulumi config set allowFlagDeletion`.",
        },
        { parent: this },
      );

    // One item per token, keyed by its hash. A record's hash keys its event-stream credentials
    // (ofrep/streamCredential.ts), so each item is a secret in Pulumi's state and previews. 1,000
    // tokens are 1,000 TableItems, created --parallel at a time.
    const createTokensTable = (records: readonly TokenRecord[]) => {
      const table = new aws.dynamodb.Table(
        `${name}-tokens`,
        {
          billingMode: "PAY_PER_REQUEST",
          hashKey: TOKENS_TABLE.hashKey,
          attributes: TOKENS_TABLE.attributes.map((attribute) => ({ ...attribute })),
          globalSecondaryIndexes: [{ name: TOKENS_TABLE.byIdIndex, hashKey: "id", projectionType: "ALL" }],
          pointInTimeRecovery: { enabled: true },
          serverSideEncryption: { enabled: true },
          deletionProtectionEnabled: tableOptions.deletionProtection,
        },
        { parent: this },
      );
      const written = records.map(
        (record) =>
          new aws.dynamodb.TableItem(
            `${name}-token-${record.id}`,
            { tableName: table.name, hashKey: table.hashKey, item: pulumi.secret(JSON.stringify(tokenItem(record))) },
            { parent: this },
          ).id,
      );
      // The functions get the table's name once every item is written: an upgrade from the
      // single parameter never has an authorizer reading a table without its tokens yet. (Not a
      // secret: it only waits on the items.)
      const tableName = pulumi.unsecret(pulumi.all([table.name, ...written]).apply(([tableName]) => tableName));
      return { table, tableName };
    };

    const createAuthorizer = (tokens: { table: aws.dynamodb.Table; tableName: pulumi.Output<string> }) =>
      new ServiceFunction(
        `${name}-authorizer`,
        {
          logRetentionDays,
          description: "REST API token authorizer",
          callbackFactory: restAuthorizerEntrypoint,
          memorySize: 256,
          environment: { [ENV.tokensTable]: tokens.tableName },
          // One GetItem by the presented token's hash; nothing else of the table.
          statements: [{ Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: tokens.table.arn }],
        },
        { parent: this },
      );

    const createFunctions = (
      table: aws.dynamodb.Table,
      evaluators: aws.dynamodb.Table,
      history: aws.dynamodb.Table,
      parameter: aws.ssm.Parameter,
      tokens: { table: aws.dynamodb.Table; tableName: pulumi.Output<string> },
      schedules: Schedules,
    ) => {
      const environment = {
        [ENV.flagsTable]: table.name,
        [ENV.evaluatorsTable]: evaluators.name,
        [ENV.historyTable]: history.name,
        [ENV.corsOrigins]: JSON.stringify(corsOrigins),
      };
      const common = { logRetentionDays, environment };
      const allow = (actions: string[], resource: pulumi.Input<string>): aws.iam.PolicyStatement => ({
        Effect: "Allow",
        Action: actions.map((action) => `dynamodb:${action}`),
        Resource: resource,
      });
      // A token's record by id (the `byId` index): OFREP signs and the event stream checks the
      // stream credential with it. Only the index: these functions never look a hash up.
      const readTokens: aws.iam.PolicyStatement = {
        Effect: "Allow",
        Action: ["dynamodb:Query"],
        Resource: pulumi.interpolate`${tokens.table.arn}/index/${TOKENS_TABLE.byIdIndex}`,
      };
      return {
        read: new ServiceFunction(
          `${name}-read`,
          {
            ...common,
            description:
              "GET /flags, GET /flags/{flagName}[/history|/schedules[/{id}]|/rollout], GET /evaluators, GET /evaluators/{name}[/history], GET /health",
            callbackFactory: flagReadsEntrypoint,
            environment: { ...environment, [ENV.schedulesTable]: schedules.table.name },
            // GetItem: a read of a flag, and a history with no entries tells a flag (or an
            // evaluator) that never existed (404) from one written before history was kept.
            // UpdateItem: a read stamps lastAccessed, at most once a minute per flag, and its stamp
            // marker (handlers/flags/stamp.ts), and nothing else of the item.
            statements: [
              allow(["Scan", "GetItem"], table.arn),
              {
                ...allow(["UpdateItem"], table.arn),
                Condition: {
                  "ForAllValues:StringEquals": { "dynamodb:Attributes": ["flagName", "lastAccessed", STAMP_ATTRIBUTE] },
                },
              },
              allow(["Scan", "GetItem"], evaluators.arn),
              // Flags' and evaluators' histories (evaluators' under `$evaluator/<name>`).
              allow(["Query"], history.arn),
              // A flag's schedules (Query), one schedule or the flag's rollout (GetItem).
              allow(["Query", "GetItem"], schedules.table.arn),
            ],
          },
          { parent: this },
        ),
        write: new ServiceFunction(
          `${name}-write`,
          {
            ...common,
            description:
              "POST /flags, PUT /flags/{flagName}, PUT and DELETE /evaluators/{name}, PUT /flags/{flagName}/rollout and its abort",
            callbackFactory: flagWritesEntrypoint,
            environment: { ...environment, ...schedules.armEnvironment },
            // Each write is a TransactWriteItems, which needs the actions of its items: the flag
            // (update reads it first), reference counts and the flag-set version, evaluators
            // (a delete first stamps who deletes, with UpdateItem).
            statements: [
              allow(["PutItem", "UpdateItem", "GetItem"], table.arn),
              // Scan: the evaluators' running size (kept on the flag-set item) is counted once,
              // by the first evaluator write after an upgrade from a version that did not keep it.
              allow(["PutItem", "UpdateItem", "DeleteItem", "GetItem", "Scan"], evaluators.arn),
              // Each change's entry, flags' and evaluators'; a create first queries where a
              // re-created name's history goes on.
              allow(["PutItem", "Query"], history.arn),
              // A rollout: read, started (a Put in its first step's transaction), aborted (an
              // Update in the abort's); its steps' EventBridge schedules armed and disarmed.
              allow(["GetItem", "PutItem", "UpdateItem"], schedules.table.arn),
              ...schedules.rolloutClockStatements,
            ],
          },
          { parent: this },
        ),
        delete: new ServiceFunction(
          `${name}-delete`,
          {
            ...common,
            description:
              "DELETE /flags/{flagName}, DELETE /flags/{flagName}/schedules/{id}, GET /settings (the deletion switch)",
            callbackFactory: flagDeleteEntrypoint,
            environment: {
              ...environment,
              [ENV.deletionParameter]: parameter.name,
              [ENV.schedulesTable]: schedules.table.name,
              [ENV.scheduleGroup]: schedules.groupName,
            },
            statements: [
              // UpdateItem stamps the deleter before the transactional delete.
              allow(["UpdateItem", "DeleteItem"], table.arn),
              // Releases the flag's evaluator references and bumps the flag-set version.
              allow(["UpdateItem"], evaluators.arn),
              // The deletion's history entry.
              allow(["PutItem"], history.arn),
              { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameter.arn },
              // Cancelling a schedule (UpdateItem), a deleted flag's too (Query); their EventBridge
              // schedules deleted. GetItem of the flag: a cancel of an unknown schedule tells
              // whether the flag is what is missing.
              allow(["Query", "UpdateItem"], schedules.table.arn),
              allow(["GetItem"], table.arn),
              // A deleted flag's running rollout (GetItem) ends (UpdateItem) and its next step's
              // schedule goes (DeleteSchedule, below).
              allow(["GetItem"], schedules.table.arn),
              ...schedules.disarmStatements,
            ],
          },
          { parent: this },
        ),
        flagset: new ServiceFunction(
          `${name}-flagset`,
          {
            ...common,
            description: "PUT /flagset (imports a flagd flag-set document: creates, updates, prunes)",
            callbackFactory: flagSetImportEntrypoint,
            environment: {
              ...environment,
              [ENV.deletionParameter]: parameter.name,
              [ENV.schedulesTable]: schedules.table.name,
              [ENV.scheduleGroup]: schedules.groupName,
            },
            statements: [
              // The flag set read whole (Scan) and its version (GetItem); then each change as the
              // write and delete functions make it: creates (PutItem), updates and the deleter's
              // stamp (UpdateItem, after a GetItem), deletes (DeleteItem), in their transactions.
              allow(["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan"], table.arn),
              allow(["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan"], evaluators.arn),
              allow(["PutItem", "Query"], history.arn),
              // A prune is refused while deletion is off, read as DELETE reads it.
              { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameter.arn },
              // A pruned flag's schedules cancelled and its rollout ended, as DELETE does.
              allow(["Query", "UpdateItem", "GetItem"], schedules.table.arn),
              ...schedules.disarmStatements,
            ],
          },
          { parent: this },
        ),
        schedules: new ServiceFunction(
          `${name}-schedules`,
          {
            ...common,
            description: "POST /flags/{flagName}/schedules (creates an EventBridge Scheduler schedule)",
            callbackFactory: schedulesEntrypoint,
            environment: { ...environment, ...schedules.armEnvironment },
            statements: [
              // Whether the flag exists: its key only (no lastAccessed stamp, no audit line).
              allow(["GetItem"], table.arn),
              // The flag's pending ones counted (Query); created (PutItem); taken back when its
              // EventBridge schedule could not be created (DeleteItem).
              allow(["Query", "PutItem", "DeleteItem"], schedules.table.arn),
              ...schedules.armStatements,
            ],
          },
          { parent: this },
        ),
        ofrep: new ServiceFunction(
          `${name}-ofrep`,
          {
            ...common,
            description: "POST /ofrep/v1/evaluate/flags[/{key}] (OFREP)",
            callbackFactory: ofrepEntrypoint,
            environment: { ...environment, [ENV.tokensTable]: tokens.tableName },
            statements: [
              // The flag set: scanned only when the version item says it changed.
              allow(["Scan"], table.arn),
              allow(["GetItem", "Scan"], evaluators.arn),
              // lastEvaluated, at most once a minute per flag, and its stamp marker
              // (handlers/flags/stamp.ts), and nothing else of the item.
              {
                ...allow(["UpdateItem"], table.arn),
                Condition: {
                  "ForAllValues:StringEquals": {
                    "dynamodb:Attributes": ["flagName", "lastEvaluated", STAMP_ATTRIBUTE],
                  },
                },
              },
              readTokens,
            ],
          },
          { parent: this },
        ),
        events: new ServiceFunction(
          `${name}-events`,
          {
            ...common,
            description: "GET /ofrep/v1/events (OFREP event streams, SSE): a streamed response per client",
            callbackFactory: eventsEntrypoint,
            environment: { ...environment, [ENV.tokensTable]: tokens.tableName },
            // A stream lasts 14 minutes (EVENT_STREAM_MAX_DURATION_MS); Lambda's limit is 15.
            timeout: 900,
            // It compares etags and writes a line now and then; it builds no flag.
            memorySize: 256,
            reservedConcurrency: eventStreamConcurrency,
            statements: [
              // The flag set's version item every 250 ms; both tables scanned when it moved.
              allow(["Scan"], table.arn),
              allow(["GetItem", "Scan"], evaluators.arn),
              readTokens,
            ],
          },
          { parent: this },
        ),
      };
    };

    const consoleArgs = (): pulumi.Output<ConsoleRoutesArgs | undefined> => {
      if (args.console === undefined) return pulumi.output(undefined);
      return pulumi
        .all({
          bucket: args.console.bucketName,
          roleArn: args.console.roleArn,
          websocketUrl: args.console.websocketUrl,
          region: aws.getRegionOutput({}, { parent: this }).region,
        })
        .apply(({ bucket, roleArn, websocketUrl, region }) => ({
          bucket,
          roleArn,
          region,
          csp: consoleCsp(new URL(websocketUrl).origin),
        }));
    };

    const createApi = (functions: Record<RouteGroup, ServiceFunction>, authorizer: ServiceFunction) => {
      const arns = pulumi.all({
        read: functions.read.function.invokeArn,
        write: functions.write.function.invokeArn,
        delete: functions.delete.function.invokeArn,
        ofrep: functions.ofrep.function.invokeArn,
        events: functions.events.function.invokeArn,
        schedules: functions.schedules.function.invokeArn,
        flagset: functions.flagset.function.invokeArn,
        authorizer: authorizer.function.invokeArn,
      });
      const body = pulumi
        .all([arns, consoleArgs()])
        .apply(
          ([{ authorizer: authorizerUri, read, write, delete: remove, ofrep, events, schedules, flagset }, console]) =>
            JSON.stringify(
              restApiSpec({
                title: `${name}-flags`,
                integrations: { read, write, delete: remove, ofrep, events, schedules, flagset },
                authorizerUri,
                authorizerTtlSeconds: args.authorizerTtlSeconds ?? 30,
                corsOrigins,
                console,
              }),
            ),
        );
      const api = new aws.apigateway.RestApi(
        `${name}-api`,
        // The same name as the document's title; the 5XX alarm and dashboard find the API by it.
        { name: `${name}-flags`, body, endpointConfiguration: { types: "REGIONAL" }, failOnWarnings: true },
        { parent: this },
      );
      // Each function may be invoked by this API for its own routes only.
      for (const route of ROUTES) {
        const path = route.resource.replace(/\{[^}]+\}/g, "*");
        new aws.lambda.Permission(
          `${name}-invoke-${route.method.toLowerCase()}${route.resource.replace(/[^A-Za-z]+/g, "-")}`,
          {
            action: "lambda:InvokeFunction",
            principal: "apigateway.amazonaws.com",
            function: functions[route.group].function.name,
            sourceArn: pulumi.interpolate`${api.executionArn}/*/${route.method}${path}`,
          },
          { parent: this },
        );
      }
      new aws.lambda.Permission(
        `${name}-invoke-authorizer`,
        {
          action: "lambda:InvokeFunction",
          principal: "apigateway.amazonaws.com",
          function: authorizer.function.name,
          sourceArn: pulumi.interpolate`${api.executionArn}/authorizers/*`,
        },
        { parent: this },
      );
      const deployment = new aws.apigateway.Deployment(
        `${name}-deployment`,
        {
          restApi: api.id,
          // A new deployment whenever the API definition changes; otherwise the stage keeps serving the old one.
          triggers: { definition: body.apply((text) => createHash("sha256").update(text).digest("hex")) },
        },
        { parent: this },
      );
      // JSON access logs: who called which route, its status and latencies (components/accessLogs.ts).
      const accessLogs = accessLogGroup(`${name}-access-logs`, logRetentionDays, this);
      const loggingReady = { parent: this, dependsOn: args.loggingPrerequisites ?? [] };
      const stage = new aws.apigateway.Stage(
        `${name}-stage`,
        {
          restApi: api.id,
          deployment: deployment.id,
          stageName,
          accessLogSettings: { destinationArn: accessLogs.arn, format: REST_ACCESS_LOG_FORMAT },
          xrayTracingEnabled: true,
        },
        loggingReady,
      );
      // The stage's own X-Ray sampling rule, ahead of the account's default (priority 10000): the
      // first request each second and traceSampleRate of the rest. Lambda functions API Gateway
      // invokes follow the stage's decision (the trace header's Sampled flag).
      new aws.xray.SamplingRule(
        `${name}-tracing`,
        {
          // At most 32 characters, unique in the account and region: the name's start and a hash
          // of the whole (project, stack and component name).
          ruleName: `${name.slice(0, 20)}-${createHash("sha256").update(`${pulumi.getProject()}/${pulumi.getStack()}/${name}`).digest("hex").slice(0, 8)}`,
          priority: 1000,
          version: 1,
          reservoirSize: 1,
          fixedRate: traceSampleRate,
          serviceName: pulumi.interpolate`${api.name}/${stageName}`,
          serviceType: "AWS::ApiGateway::Stage",
          host: "*",
          httpMethod: "*",
          urlPath: "*",
          resourceArn: "*",
        },
        { parent: this },
      );
      const executionLogs = executionLogGroup(
        `${name}-execution-logs`,
        pulumi.interpolate`API-Gateway-Execution-Logs_${api.id}/${stageName}`,
        logRetentionDays,
        this,
      );
      new aws.apigateway.MethodSettings(
        `${name}-stage-settings`,
        {
          restApi: api.id,
          stageName: stage.stageName,
          methodPath: "*/*",
          settings: {
            throttlingRateLimit: args.throttleRateLimit ?? 100,
            throttlingBurstLimit: args.throttleBurstLimit ?? 200,
            // Per-method detailed metrics are billed as custom metrics (7 per method); the
            // dashboard and alarms read the stage's free metrics (ApiName, Stage) only.
            metricsEnabled: false,
            loggingLevel: executionLogLevel,
            // Never request or response bodies and headers in the logs: they carry tokens and flags.
            dataTraceEnabled: false,
          },
        },
        { ...loggingReady, dependsOn: [...loggingReady.dependsOn, executionLogs] },
      );
      return { api, stage, accessLogs };
    };

    this.table = createTable();
    this.evaluatorsTable = createEvaluatorsTable();
    this.historyTable = createHistoryTable();
    this.deletionParameter = createDeletionParameter();
    const tokens = createTokensTable(tokenRecords);
    this.tokensTable = tokens.table;
    this.tokensTableName = tokens.tableName;
    this.authorizer = createAuthorizer(tokens);
    this.schedules = new Schedules(
      name,
      {
        flagsTable: this.table,
        evaluatorsTable: this.evaluatorsTable,
        historyTable: this.historyTable,
        logRetentionDays,
        tableDeletionProtection: tableOptions.deletionProtection,
      },
      { parent: this },
    );
    this.functions = createFunctions(
      this.table,
      this.evaluatorsTable,
      this.historyTable,
      this.deletionParameter,
      tokens,
      this.schedules,
    );
    const { api, stage, accessLogs } = createApi(this.functions, this.authorizer);
    this.accessLogGroup = accessLogs;
    this.api = api;
    this.stage = stage;
    stageWebAcl(name, stage, this, {
      bodyLimit: args.requestBodyLimit ?? true,
      ofrepRateLimit: args.ofrepRateLimit ?? DEFAULT_OFREP_RATE_LIMIT,
      rateLimit: args.rateLimit ?? DEFAULT_RATE_LIMIT,
      corsOrigins,
    });

    this.apiUrl = stage.invokeUrl;
    this.consoleUrl = args.console === undefined ? undefined : pulumi.interpolate`${stage.invokeUrl}/console/`;
    this.tableName = this.table.name;
    this.tableArn = this.table.arn;
    this.tableStreamArn = this.table.streamArn;
    this.allowFlagDeletionParameter = this.deletionParameter.name;
    this.registerOutputs({
      apiUrl: this.apiUrl,
      tableName: this.tableName,
      tableArn: this.tableArn,
      tableStreamArn: this.tableStreamArn,
      allowFlagDeletionParameter: this.allowFlagDeletionParameter,
      consoleUrl: this.consoleUrl,
    });
  }
}
