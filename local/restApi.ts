/** The local service's REST API: HTTP → API Gateway proxy events → the same route handlers as on AWS. */
import type { EventEmitter } from "node:events";
import type * as http from "node:http";
import type { Logger } from "@aws-lambda-powertools/logger";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { type FlagRead, READ_ROUTE } from "../handlers/audit/reads";
import { bearerToken, principalContext, recordLookup, type TokenRecord, verifyToken } from "../handlers/auth/tokens";
import type { ErrorCode } from "../handlers/errors";
import { makeEvaluatorHistoryStore } from "../handlers/evaluators/history";
import { makeEvaluatorReadRoutes, makeEvaluatorWriteRoutes } from "../handlers/evaluators/routes";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { historyTableFor } from "../handlers/flags/history";
import { makeHistoryRoutes } from "../handlers/flags/historyRoutes";
import { makeHistoryStore } from "../handlers/flags/historyStore";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "../handlers/flags/routes";
import { corsHeaders, DEFAULT_OFREP_RATE_LIMIT, errorBody, makeProxyHandler } from "../handlers/http";
import { makeDynamoFlagSetSource, makeFlagSetCache } from "../handlers/ofrep/flagSet";
import { makeEvaluationRecorder } from "../handlers/ofrep/lastEvaluated";
import { makeOfrepRoutes } from "../handlers/ofrep/routes";
import { makeSettingsRoutes } from "../handlers/settings/routes";
import { makeFlagSetReadRoutes, makeFlagSetWriteRoutes } from "../handlers/flagset/routes";
import { makeFlagSetReader, makeFlagSets } from "../handlers/flagset/service";
import { makeRolloutReadRoutes, makeRolloutWriteRoutes } from "../handlers/rollouts/routes";
import { endFlagRollout, type Rollouts } from "../handlers/rollouts/service";
import type { ScheduleClock } from "../handlers/schedules/clock";
import {
  cancelFlagSchedules,
  makeScheduleCancelRoutes,
  makeScheduleCreateRoutes,
  makeScheduleReadRoutes,
} from "../handlers/schedules/routes";
import { compileRoutes, toProxyEvent, tooLarge, writeProxyResult } from "./apigateway";
import { makeConsoleServer } from "./console";
import type { Dependency } from "./dependency";
import { type LocalEventStreamLimits, type LocalEventStreams, makeLocalEventStreams } from "./eventStream";
import type { Stores } from "./stores";

/** What this step reads of the service's options (`ServiceOptions` documents each). */
export interface RestApiOptions {
  allowFlagDeletion: () => boolean;
  corsOrigins?: string[];
  consoleDir?: string;
  ofrepRateLimit?: number;
  eventStreamLimits?: Partial<LocalEventStreamLimits>;
  /** What arms scheduled changes (./schedules.ts), standing in for EventBridge Scheduler. */
  scheduleClock: ScheduleClock;
  /** Rollouts, on the same clock. */
  rollouts: Rollouts;
  /** Told of every successful `GET /flags/{flagName}`: the audit trail's `read` lines. */
  onRead?: (read: FlagRead) => void;
}

/** The window of the OFREP limiter: its limit is per minute, as WAF's rate rule on AWS. */
const RATE_WINDOW_SECONDS = 60;

/**
 * Per-IP limiter in front of OFREP (`/ofrep/...`, the event stream included), as WAF's rate-based
 * rule is on AWS: whatever the token, one address gets `limit` requests a minute. Undefined: off.
 */
function makeOfrepLimiter(limit: number) {
  if (limit === 0) return undefined;
  const limiter = new RateLimiterMemory({ points: limit, duration: RATE_WINDOW_SECONDS });
  /** Seconds until `ip` may call again, or 0 when this request is admitted. */
  return async (ip: string): Promise<number> => {
    try {
      await limiter.consume(ip);
      return 0;
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
    }
  };
}

/** Step: HTTP → the route handlers, as API Gateway and the REST authorizer would; 503 while DynamoDB is down. */
export function serveRestApi(
  server: EventEmitter,
  stores: Stores,
  tokenRecords: TokenRecord[],
  dependency: Dependency,
  logger: Logger,
  options: RestApiOptions,
): { eventStreams: LocalEventStreams } {
  const { doc, tableName } = stores;
  const flagSetSource = makeDynamoFlagSetSource({
    doc,
    flagsTable: tableName,
    evaluatorsTable: evaluatorsTableFor(tableName),
  });
  // OFREP as its Lambda runs it: a warm flag set checked for changes, lastEvaluated once a minute.
  const ofrep = makeOfrepRoutes({
    flagSet: makeFlagSetCache({ source: flagSetSource }),
    tokens: recordLookup(tokenRecords),
    recorder: makeEvaluationRecorder({
      doc,
      tableName,
      onFailure: (flagName, error) => logger.warn("lastEvaluated not stamped", { flagName, error: error as Error }),
    }),
  });
  const isDeletionAllowed = async () => options.allowFlagDeletion();
  const history = makeHistoryStore({ doc, tableName, historyTableName: historyTableFor(tableName) });
  // What a flag's deletion does besides, by DELETE or by an import's prune.
  const onFlagDeleted = async (flagName: string, actor: string | null) => {
    await cancelFlagSchedules({ schedules: stores.schedules, clock: options.scheduleClock }, flagName, actor);
    await endFlagRollout({ rollouts: stores.rollouts, clock: options.scheduleClock }, flagName, actor);
  };
  const flagSetTables = { doc, flagsTable: tableName, evaluatorsTable: evaluatorsTableFor(tableName) };
  const restHandler = makeProxyHandler(
    {
      ...makeReadRoutes({ store: stores.flags }),
      ...makeHistoryRoutes({ history }),
      ...makeWriteRoutes({ store: stores.flags }),
      ...makeDeleteRoutes({
        store: stores.flags,
        isDeletionAllowed,
        onDeleted: onFlagDeleted,
      }),
      ...makeScheduleReadRoutes({ schedules: stores.schedules }),
      ...makeScheduleCreateRoutes({ schedules: stores.schedules, clock: options.scheduleClock }),
      ...makeScheduleCancelRoutes({ schedules: stores.schedules, clock: options.scheduleClock }),
      ...makeRolloutReadRoutes({ rollouts: stores.rollouts }),
      ...makeRolloutWriteRoutes({ rollouts: options.rollouts }),
      ...makeFlagSetReadRoutes({ flagSets: makeFlagSetReader(flagSetTables) }),
      ...makeFlagSetWriteRoutes({
        flagSets: makeFlagSets({
          ...flagSetTables,
          flags: stores.flags,
          evaluators: stores.evaluators,
          isDeletionAllowed,
          onFlagDeleted,
        }),
      }),
      ...makeSettingsRoutes({ isDeletionAllowed }),
      ...makeEvaluatorReadRoutes({
        store: stores.evaluators,
        history: makeEvaluatorHistoryStore({
          doc,
          tableName: evaluatorsTableFor(tableName),
          historyTableName: historyTableFor(tableName),
        }),
      }),
      ...makeEvaluatorWriteRoutes({ store: stores.evaluators }),
      ...ofrep,
    },
    logger,
    { corsOrigins: options.corsOrigins },
  );
  // The event streams share one cache that only tells configurations apart (no flag is built).
  const limits = options.eventStreamLimits ?? {};
  const eventStreams = makeLocalEventStreams({
    flagSet: makeFlagSetCache({ source: flagSetSource, checkIntervalMs: limits.pollMs ?? 50, build: false }),
    tokenRecords,
    logger,
    corsOrigins: options.corsOrigins,
    limits,
  });
  const match = compileRoutes();
  const serveConsole = makeConsoleServer(options.consoleDir);
  const rateLimit = options.ofrepRateLimit ?? DEFAULT_OFREP_RATE_LIMIT;
  const throttle = makeOfrepLimiter(rateLimit);
  server.on("request", async (request: http.IncomingMessage, response: http.ServerResponse) => {
    // What this layer answers itself carries CORS headers too, as API Gateway's and WAF's do.
    const cors = corsHeaders(request.headers.origin, options.corsOrigins ?? []);
    const sendError = (status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "Content-Type": "application/json", ...cors, ...headers });
      response.end(JSON.stringify(errorBody(code, message)));
    };
    try {
      let url: URL;
      try {
        url = new URL(request.url ?? "/", "http://local");
      } catch {
        // A request-target no URL parser accepts (e.g. `//[`): API Gateway refuses those too.
        return sendError(400, "VALIDATION_FAILED", "the request path is not a valid URL path");
      }
      const path = url.pathname;
      if (throttle !== undefined && path.startsWith("/ofrep/")) {
        const wait = await throttle(request.socket.remoteAddress ?? "unknown");
        if (wait > 0) {
          return sendError(
            429,
            "THROTTLED",
            `more than ${rateLimit} OFREP requests from this address in ${RATE_WINDOW_SECONDS} s; retry in ${wait} s`,
            { "Retry-After": String(wait) },
          );
        }
      }
      // The console's static files: no token, as on AWS.
      if (serveConsole(request, response, path)) return;
      const matched = match(request.method ?? "", path);
      let authorizer: Record<string, string> | null = null;
      // What API Gateway and the REST authorizer do before a guarded route's handler runs.
      if (matched !== undefined && matched.route.scope !== null) {
        const principal = verifyToken(bearerToken(request.headers.authorization), tokenRecords);
        if (principal === undefined) {
          return sendError(401, "UNAUTHENTICATED", "send a valid token: Authorization: Bearer <token>");
        }
        authorizer = principalContext(principal);
      }
      if (matched !== undefined && matched.route.method !== "OPTIONS" && !dependency.available()) {
        return sendError(503, "DEPENDENCY_UNAVAILABLE", "DynamoDB Local is restarting; retry shortly", {
          "Retry-After": "1",
        });
      }
      if (matched?.route.group === "events") return await eventStreams.serve(request, response, url);
      const arrived = Date.now();
      const event = await toProxyEvent(request, matched, { authorizer, url });
      const result = await restHandler(event);
      writeProxyResult(response, result);
      // What the access log's subscription filter passes on AWS: a successful read of one flag.
      if (
        options.onRead !== undefined &&
        result.statusCode === 200 &&
        matched?.route.method === READ_ROUTE.method &&
        matched.route.resource === READ_ROUTE.resourcePath
      ) {
        const flag = JSON.parse(result.body) as { flagName: string; version: number };
        options.onRead({
          flagName: flag.flagName,
          at: arrived,
          actor: authorizer?.tokenId ?? null,
          version: flag.version,
        });
      }
    } catch (error) {
      if (error instanceof RangeError) return tooLarge(response, cors);
      response.destroy(error as Error);
    }
  });
  return { eventStreams };
}
