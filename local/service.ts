import type { EventEmitter } from "node:events";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { makeWebSocketAuthorizer } from "../handlers/auth/authorizers";
import {
  bearerToken,
  principalContext,
  type TokenConfig,
  type TokenRecord,
  toTokenRecords,
  verifyToken,
} from "../handlers/auth/tokens";
import type { ErrorCode } from "../handlers/errors";
import { makeEvaluatorReadRoutes, makeEvaluatorWriteRoutes } from "../handlers/evaluators/routes";
import { makeEvaluatorHistoryStore } from "../handlers/evaluators/history";
import { type EvaluatorStore, evaluatorsByName, makeEvaluatorStore } from "../handlers/evaluators/store";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { historyTableFor } from "../handlers/flags/history";
import { makeHistoryRoutes } from "../handlers/flags/historyRoutes";
import { makeHistoryStore } from "../handlers/flags/historyStore";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "../handlers/flags/routes";
import { type FlagStore, makeFlagStore } from "../handlers/flags/store";
import { errorBody, makeProxyHandler } from "../handlers/http";
import { makeDynamoFlagSetSource, makeFlagSetCache } from "../handlers/ofrep/flagSet";
import { makeEvaluationRecorder } from "../handlers/ofrep/lastEvaluated";
import { makeOfrepRoutes } from "../handlers/ofrep/routes";
import { type ConnectionStore, makeConnectionStore } from "../handlers/realtime/connections";
import {
  makeConnectHandler,
  makeDefaultHandler,
  makeDisconnectHandler,
  makeFanoutHandler,
  makeSnapshotHandler,
} from "../handlers/realtime/handlers";
import { makePoster, type Poster } from "../handlers/realtime/push";
import { makeFanoutWorkerHandler } from "../handlers/realtime/scaleout";
import { EVALUATORS_FILTER, SNAPSHOT_FILTER } from "../handlers/realtime/table";
import { makeSettingsRoutes } from "../handlers/settings/routes";
import { compileRoutes, toProxyEvent, tooLarge, writeProxyResult } from "./apigateway";
import { startAuditWriter } from "./audit";
import { makeConsoleServer } from "./console";
import { LOCAL_REGION, localDynamoClient } from "./dynamodb";
import { checkDatabaseFile, checkDataDirWritable, checkJava, StartupError } from "./preflight";
import { gateUntilServing } from "./startupGate";
import { type StreamPoller, startStreamPoller } from "./streams";
import { superviseDynamoDbLocal } from "./supervisor";
import { ensureConnectionsTable, ensureFlagsTable } from "./tables";
import { attachWebSocketApi, type LocalWebSocketApi, type WebSocketLimits, type WebSocketMetrics } from "./websocket";

export interface ServiceOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Persist here; undefined keeps everything in memory. Ignored when `dynamoEndpoint` is given. */
  dataDir?: string;
  /** Use this DynamoDB (Local) endpoint instead of starting one; tests share one this way. */
  dynamoEndpoint?: string;
  /** Default `flags`. Tests give each suite its own tables in a shared DynamoDB Local. */
  tableName?: string;
  /** Default `connections`. */
  connectionsTableName?: string;
  allowFlagDeletion: () => boolean;
  /** Accepted tokens; only their hashes are kept. None means every request but /health is refused. */
  tokens: TokenConfig[];
  /** Origins allowed by CORS; default none (CORS off). */
  corsOrigins?: string[];
  /** Write the audit trail under `<auditDataDir>/audit/`; undefined: no audit files. */
  auditDataDir?: string;
  /** Aborting stops a start-up in progress and undoes what it started. */
  signal?: AbortSignal;
  /** Progress lines while starting (e.g. while the JVM starts). */
  onProgress?: (line: string) => void;
  /** Called when DynamoDB Local died and could not be restarted: the service cannot go on. */
  onFatal?: (error: Error) => void;
  /** Default: a Powertools Logger (its level from POWERTOOLS_LOG_LEVEL). */
  logger?: Logger;
  /** What one WebSocket connection may cost; defaults in `DEFAULT_WEBSOCKET_LIMITS`. */
  websocketLimits?: Partial<WebSocketLimits>;
  /** The built web console served at `/console/`; default `console/dist` of this checkout. */
  consoleDir?: string;
}

export interface RunningService {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  /** e.g. `ws://127.0.0.1:3000/ws` */
  readonly websocketUrl: string;
  /** e.g. `http://127.0.0.1:3000/console/` */
  readonly consoleUrl: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly connectionsTableName: string;
  /** Connections the WebSocket server closed, by cause. */
  websocketMetrics(): Readonly<WebSocketMetrics>;
  /** The DynamoDB Local process this service supervises (undefined with `dynamoEndpoint`). */
  dynamoPid(): number | undefined;
  /** Stops serving, then stops what it started (DynamoDB Local included). */
  stop(): Promise<void>;
}

/** Teardown in reverse order of start-up: each step registers how to undo itself. */
class Teardown {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

/** Whether DynamoDB is there to serve; always true for an endpoint the service did not start. */
interface Dependency {
  endpoint: string;
  available(): boolean;
  pid(): number | undefined;
  onRestart(hook: () => Promise<void>): void;
  stopRestarting(): void;
}

const sendError = (response: http.ServerResponse, status: number, code: ErrorCode, message: string) => {
  response.writeHead(status, { "Content-Type": "application/json", ...(status === 503 ? { "Retry-After": "1" } : {}) });
  response.end(JSON.stringify(errorBody(code, message)));
};

/** Node's own refusals (before a request reaches a handler), with the contract's error body. */
const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: [431, "HEADERS_TOO_LARGE", "request headers are too large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "REQUEST_TIMEOUT", "the request was not sent in time"],
};

function refuseMalformedRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
  const [status, code, message] = CLIENT_ERRORS[error.code ?? ""] ?? [400, "BAD_REQUEST", "malformed HTTP request"];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Stops accepting connections and ends HTTP ones; upgraded (WebSocket) sockets are left to their API. */
function stopAccepting(server: http.Server): void {
  if (server.listening) server.close();
  server.closeAllConnections();
}

/** Step: bind the port first, so a port in use fails before anything slow starts. */
async function listen(port: number, teardown: Teardown): Promise<http.Server> {
  const server = http.createServer();
  server.on("clientError", refuseMalformedRequest);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new StartupError(
              `port ${port} is in use: stop what uses it, or set PORT to another port (0 picks a free one)`,
            )
          : error,
      ),
    );
    server.listen(port, "127.0.0.1", resolve);
  });
  // Every socket, upgraded ones included, so none can keep the service (and the process) alive.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const closed = new Promise((resolve) => server.once("close", resolve));
  // Last step of a stop: whatever is still connected (a WebSocket client mid-handshake, a client
  // the WebSocket API had not accepted yet) is cut, and the server is closed for good.
  teardown.add(async () => {
    stopAccepting(server);
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return server;
}

/** Step: DynamoDB Local, checked for what commonly stops it and then supervised; or a given endpoint. */
async function startDependency(options: ServiceOptions, teardown: Teardown): Promise<Dependency> {
  if (options.dynamoEndpoint !== undefined) {
    const endpoint = options.dynamoEndpoint;
    const none = () => undefined;
    return { endpoint, available: () => true, pid: none, onRestart: none, stopRestarting: none };
  }
  if (options.dataDir !== undefined) {
    checkDataDirWritable(options.dataDir);
    checkDatabaseFile(options.dataDir);
  }
  await checkJava();
  const dynamo = await superviseDynamoDbLocal({
    dataDir: options.dataDir,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  teardown.add(() => dynamo.stop());
  if (options.onFatal !== undefined) dynamo.onGiveUp(options.onFatal);
  return {
    endpoint: dynamo.endpoint,
    available: () => dynamo.available,
    pid: () => dynamo.pid,
    onRestart: (hook) => dynamo.onRestart(hook),
    stopRestarting: () => dynamo.stopRestarting(),
  };
}

interface Stores {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  flags: FlagStore;
  evaluators: EvaluatorStore;
  connections: ConnectionStore;
  tableName: string;
  connectionsTableName: string;
}

/** Step: clients and tables (created from the Pulumi components' definitions; again after an in-memory restart). */
async function openStores(options: ServiceOptions, dependency: Dependency, teardown: Teardown): Promise<Stores> {
  const tableName = options.tableName ?? "flags";
  const connectionsTableName = options.connectionsTableName ?? "connections";
  const client = localDynamoClient(dependency.endpoint);
  teardown.add(() => client.destroy());
  const ensureTables = async () => {
    await ensureFlagsTable(client, tableName);
    await ensureConnectionsTable(client, connectionsTableName);
  };
  await ensureTables();
  dependency.onRestart(ensureTables);
  const doc = DynamoDBDocumentClient.from(client);
  return {
    client,
    doc,
    flags: makeFlagStore({ doc, tableName }),
    evaluators: makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    }),
    connections: makeConnectionStore({ doc, tableName: connectionsTableName }),
    tableName,
    connectionsTableName,
  };
}

/** Step: the WebSocket API, whose handlers post through the real Management API client, in process. */
function startWebSocketApi(
  server: EventEmitter,
  stores: Stores,
  tokenRecords: TokenRecord[],
  logger: Logger,
  options: ServiceOptions,
  teardown: Teardown,
) {
  // Posts go through the socket server's in-process handler, created below with these handlers.
  const post: Poster = (connectionId, message) => poster(connectionId, message);
  const snapshotDeps = {
    flags: stores.flags,
    connections: stores.connections,
    post,
    logger,
    evaluators: evaluatorsByName(stores.evaluators),
  };
  const wsAuthorizer = makeWebSocketAuthorizer({ loadTokens: async () => tokenRecords });
  const websocket: LocalWebSocketApi = attachWebSocketApi(
    server,
    "/ws",
    {
      authorize: async (query) => {
        const result = await wsAuthorizer({
          type: "REQUEST",
          methodArn: "arn:aws:execute-api:local:000000000000:local/local/$connect",
          queryStringParameters: query,
        } as never);
        return result.context as Record<string, string>;
      },
      connect: makeConnectHandler({ connections: stores.connections }),
      disconnect: makeDisconnectHandler({ connections: stores.connections }),
      message: makeDefaultHandler(snapshotDeps),
    },
    logger,
    options.websocketLimits,
  );
  const management = new ApiGatewayManagementApiClient({
    endpoint: "http://management.local",
    region: LOCAL_REGION,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    requestHandler: websocket.managementHandler,
  });
  const poster = makePoster(management);
  teardown.add(() => management.destroy());
  return { websocket, post, snapshotDeps };
}

/** Step: HTTP → the route handlers, as API Gateway and the REST authorizer would; 503 while DynamoDB is down. */
function serveRest(
  server: EventEmitter,
  stores: Stores,
  tokenRecords: TokenRecord[],
  dependency: Dependency,
  logger: Logger,
  options: ServiceOptions,
): void {
  const { doc, tableName } = stores;
  // OFREP as its Lambda runs it: a warm flag set checked for changes, lastEvaluated once a minute.
  const ofrep = makeOfrepRoutes({
    flagSet: makeFlagSetCache({
      source: makeDynamoFlagSetSource({ doc, flagsTable: tableName, evaluatorsTable: evaluatorsTableFor(tableName) }),
    }),
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
      const event = await toProxyEvent(request, matched, { authorizer, url });
      writeProxyResult(response, await restHandler(event));
    } catch (error) {
      if (error instanceof RangeError) return tooLarge(response);
      response.destroy(error as Error);
    }
  });
}

/** Step: stream pollers standing in for Lambda's event source mappings (fan-out, snapshots, audit). */
async function startConsumers(
  stores: Stores,
  dependency: Dependency,
  deps: ReturnType<typeof startWebSocketApi>,
  logger: Logger,
  options: ServiceOptions,
  teardown: Teardown,
): Promise<void> {
  const discard = (table: string) => (records: unknown[], error: unknown) =>
    logger.error("stream records discarded after retries", { table, count: records.length, error: error as Error });
  const common = { dynamo: stores.client, endpoint: dependency.endpoint };
  // The fan-out's worker, invoked (and waited for) as on AWS when a change has more posts than
  // one invocation's share.
  const worker = makeFanoutWorkerHandler({ connections: stores.connections, post: deps.post, logger });
  // One fan-out on both streams, as in AWS: two event source mappings on one function.
  const fanout = makeFanoutHandler({
    connections: stores.connections,
    post: deps.post,
    logger,
    evaluators: stores.evaluators.state,
    invokeWorker: async (event) => {
      await worker(event);
    },
  });
  const evaluatorsTableName = evaluatorsTableFor(stores.tableName);
  const pollers: Array<Promise<StreamPoller>> = [
    startStreamPoller({
      ...common,
      tableName: stores.tableName,
      handler: fanout,
      onDiscard: discard(stores.tableName),
    }),
    startStreamPoller({
      ...common,
      tableName: evaluatorsTableName,
      handler: fanout,
      filter: EVALUATORS_FILTER,
      onDiscard: discard(evaluatorsTableName),
    }),
    startStreamPoller({
      ...common,
      tableName: stores.connectionsTableName,
      handler: makeSnapshotHandler(deps.snapshotDeps),
      filter: SNAPSHOT_FILTER,
      onDiscard: discard(stores.connectionsTableName),
    }),
  ];
  if (options.auditDataDir !== undefined) {
    // Flag and evaluator changes in one trail, as the two Pipes on AWS feed one delivery stream.
    pollers.push(
      startAuditWriter({
        ...common,
        sources: [{ tableName: stores.tableName }, { tableName: evaluatorsTableName, filter: EVALUATORS_FILTER }],
        dataDir: options.auditDataDir,
        logger,
      }),
    );
  }
  for (const poller of pollers) teardown.add(async () => (await poller).stop());
  await Promise.all(pollers);
  // Sockets close first on stop, so their $disconnect handlers run while the tables still exist.
  teardown.add(() => deps.websocket.close());
}

/**
 * Runs the service on one machine: the same handlers the Lambdas run. HTTP requests become API
 * Gateway proxy events, WebSocket traffic becomes API Gateway WebSocket events, and pollers on the
 * DynamoDB Local streams invoke the stream consumers as Lambda's event source mappings do.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const teardown = new Teardown();
  const step = async <T>(run: () => Promise<T> | T): Promise<T> => {
    if (options.signal?.aborted) throw new StartupError("start-up interrupted");
    return run();
  };
  try {
    const logger = options.logger ?? new Logger({ serviceName: "feature-flags-local" });
    const tokenRecords = toTokenRecords(options.tokens);
    const server = await step(() => listen(options.port, teardown));
    // Until the last step, whatever arrives is answered 503, never held (./startupGate.ts).
    const gate = gateUntilServing(server, { corsOrigins: options.corsOrigins });
    const dependency = await step(() => startDependency(options, teardown));
    const stores = await step(() => openStores(options, dependency, teardown));
    const realtime = await step(() => startWebSocketApi(gate.routes, stores, tokenRecords, logger, options, teardown));
    await step(() => serveRest(gate.routes, stores, tokenRecords, dependency, logger, options));
    await step(() => startConsumers(stores, dependency, realtime, logger, options, teardown));
    // On stop, new requests are refused before anything they would need goes away.
    // Not waiting for the server to close: WebSocket clients still connected end with the
    // WebSocket API's own step, so their $disconnect handlers run.
    teardown.add(() => stopAccepting(server));
    teardown.add(() => dependency.stopRestarting());
    const { port } = server.address() as AddressInfo;
    gate.open();
    return {
      url: `http://127.0.0.1:${port}`,
      websocketUrl: `ws://127.0.0.1:${port}/ws`,
      consoleUrl: `http://127.0.0.1:${port}/console/`,
      port,
      dynamoEndpoint: dependency.endpoint,
      tableName: stores.tableName,
      connectionsTableName: stores.connectionsTableName,
      websocketMetrics: () => realtime.websocket.metrics(),
      dynamoPid: () => dependency.pid(),
      stop: () => teardown.run(),
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}
