/** The local service's REST API: HTTP → API Gateway proxy events → the same route handlers as on AWS. */
import type { EventEmitter } from "node:events";
import type * as http from "node:http";
import type { Logger } from "@aws-lambda-powertools/logger";
import { bearerToken, principalContext, type TokenRecord, verifyToken } from "../handlers/auth/tokens";
import type { ErrorCode } from "../handlers/errors";
import { makeEvaluatorHistoryStore } from "../handlers/evaluators/history";
import { makeEvaluatorReadRoutes, makeEvaluatorWriteRoutes } from "../handlers/evaluators/routes";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { historyTableFor } from "../handlers/flags/history";
import { makeHistoryRoutes } from "../handlers/flags/historyRoutes";
import { makeHistoryStore } from "../handlers/flags/historyStore";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "../handlers/flags/routes";
import { errorBody, makeProxyHandler } from "../handlers/http";
import { makeDynamoFlagSetSource, makeFlagSetCache } from "../handlers/ofrep/flagSet";
import { makeEvaluationRecorder } from "../handlers/ofrep/lastEvaluated";
import { makeOfrepRoutes } from "../handlers/ofrep/routes";
import { makeSettingsRoutes } from "../handlers/settings/routes";
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
  eventStreamLimits?: Partial<LocalEventStreamLimits>;
}

const sendError = (response: http.ServerResponse, status: number, code: ErrorCode, message: string) => {
  response.writeHead(status, { "Content-Type": "application/json", ...(status === 503 ? { "Retry-After": "1" } : {}) });
  response.end(JSON.stringify(errorBody(code, message)));
};

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
    loadTokens: async () => tokenRecords,
    recorder: makeEvaluationRecorder({
      doc,
      tableName,
      onFailure: (flagName, error) => logger.warn("lastEvaluated not stamped", { flagName, error: error as Error }),
    }),
  });
  const isDeletionAllowed = async () => options.allowFlagDeletion();
  const history = makeHistoryStore({ doc, tableName, historyTableName: historyTableFor(tableName) });
  const restHandler = makeProxyHandler(
    {
      ...makeReadRoutes({ store: stores.flags }),
      ...makeHistoryRoutes({ history }),
      ...makeWriteRoutes({ store: stores.flags }),
      ...makeDeleteRoutes({ store: stores.flags, isDeletionAllowed }),
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
  server.on("request", async (request: http.IncomingMessage, response: http.ServerResponse) => {
    try {
      let url: URL;
      try {
        url = new URL(request.url ?? "/", "http://local");
      } catch {
        // A request-target no URL parser accepts (e.g. `//[`): API Gateway refuses those too.
        return sendError(response, 400, "VALIDATION_FAILED", "the request path is not a valid URL path");
      }
      const path = url.pathname;
      // The console's static files: no token, as on AWS.
      if (serveConsole(request, response, path)) return;
      const matched = match(request.method ?? "", path);
      let authorizer: Record<string, string> | null = null;
      // What API Gateway and the REST authorizer do before a guarded route's handler runs.
      if (matched !== undefined && matched.route.scope !== null) {
        const principal = verifyToken(bearerToken(request.headers.authorization), tokenRecords);
        if (principal === undefined) {
          return sendError(response, 401, "UNAUTHENTICATED", "send a valid token: Authorization: Bearer <token>");
        }
        authorizer = principalContext(principal);
      }
      if (matched !== undefined && matched.route.method !== "OPTIONS" && !dependency.available()) {
        return sendError(response, 503, "DEPENDENCY_UNAVAILABLE", "DynamoDB Local is restarting; retry shortly");
      }
      if (matched?.route.group === "events") return await eventStreams.serve(request, response, url);
      const event = await toProxyEvent(request, matched, { authorizer, url });
      writeProxyResult(response, await restHandler(event));
    } catch (error) {
      if (error instanceof RangeError) return tooLarge(response);
      response.destroy(error as Error);
    }
  });
  return { eventStreams };
}
