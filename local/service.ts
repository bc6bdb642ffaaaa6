import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { makeWebSocketAuthorizer } from "../handlers/auth/authorizers";
import { bearerToken, principalContext, type TokenConfig, toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { makeEvaluatorReadRoutes, makeEvaluatorWriteRoutes } from "../handlers/evaluators/routes";
import { makeEvaluatorStore } from "../handlers/evaluators/store";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "../handlers/flags/routes";
import { makeFlagStore } from "../handlers/flags/store";
import { errorBody, makeProxyHandler } from "../handlers/http";
import { makeDynamoFlagSetSource, makeFlagSetCache } from "../handlers/ofrep/flagSet";
import { makeEvaluationRecorder } from "../handlers/ofrep/lastEvaluated";
import { makeOfrepRoutes } from "../handlers/ofrep/routes";
import { makeConnectionStore } from "../handlers/realtime/connections";
import {
  makeConnectHandler,
  makeDefaultHandler,
  makeDisconnectHandler,
  makeFanoutHandler,
  makeSnapshotHandler,
} from "../handlers/realtime/handlers";
import { makePoster } from "../handlers/realtime/push";
import { FANOUT_CONCURRENCY, SNAPSHOT_FILTER } from "../handlers/realtime/table";
import { compileRoutes, toProxyEvent, tooLarge, writeProxyResult } from "./apigateway";
import { type DynamoDbLocal, LOCAL_REGION, localDynamoClient, startDynamoDbLocal } from "./dynamodb";
import { startAuditWriter } from "./audit";
import { startStreamPoller } from "./streams";
import { ensureConnectionsTable, ensureFlagsTable } from "./tables";
import { attachWebSocketApi, type LocalWebSocketApi, localManagementCredentials } from "./websocket";

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
}

export interface RunningService {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  /** e.g. `ws://127.0.0.1:3000/ws` */
  readonly websocketUrl: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly connectionsTableName: string;
  /** Stops serving, then stops what it started (DynamoDB Local included). */
  stop(): Promise<void>;
}

const unauthenticated = (response: http.ServerResponse) => {
  response.writeHead(401, { "Content-Type": "application/json" });
  response.end(JSON.stringify(errorBody("UNAUTHENTICATED", "send a valid token: Authorization: Bearer <token>")));
};

/**
 * Runs the service on one machine: the same handlers the Lambdas run. HTTP requests become API
 * Gateway proxy events, WebSocket traffic becomes API Gateway WebSocket events, and pollers on the
 * DynamoDB Local streams invoke the stream consumers as Lambda's event source mappings do.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  let dynamo: DynamoDbLocal | undefined;
  if (options.dynamoEndpoint === undefined) {
    if (options.dataDir !== undefined) fs.mkdirSync(options.dataDir, { recursive: true });
    dynamo = await startDynamoDbLocal({ dataDir: options.dataDir });
  }
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo as DynamoDbLocal).endpoint;
  const tableName = options.tableName ?? "flags";
  const connectionsTableName = options.connectionsTableName ?? "connections";
  const client = localDynamoClient(dynamoEndpoint);
  const doc = DynamoDBDocumentClient.from(client);
  const server = http.createServer();

  // Teardown, in reverse order of start-up: each step registers how to undo itself.
  const cleanups: Array<() => unknown> = [() => dynamo?.stop(), () => client.destroy()];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };

  try {
    await ensureFlagsTable(client, tableName);
    await ensureConnectionsTable(client, connectionsTableName);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, "127.0.0.1", resolve);
    });
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const tokenRecords = toTokenRecords(options.tokens);
  const logger = new Logger({ serviceName: "feature-flags-local" });
  const flags = makeFlagStore({ doc, tableName });
  const evaluators = makeEvaluatorStore({ doc, tableName: evaluatorsTableFor(tableName) });
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
  const connections = makeConnectionStore({ doc, tableName: connectionsTableName });

  const restHandler = makeProxyHandler(
    {
      ...makeReadRoutes({ store: flags }),
      ...makeWriteRoutes({ store: flags }),
      ...makeDeleteRoutes({ store: flags, isDeletionAllowed: async () => options.allowFlagDeletion() }),
      ...makeEvaluatorReadRoutes({ store: evaluators }),
      ...makeEvaluatorWriteRoutes({ store: evaluators }),
      ...ofrep,
    },
    logger,
    { corsOrigins: options.corsOrigins },
  );
  const match = compileRoutes();

  // The handlers post through the real Management API client, pointed at this server.
  const credentials = localManagementCredentials();
  const management = new ApiGatewayManagementApiClient({
    endpoint: url,
    region: LOCAL_REGION,
    credentials,
    requestHandler: { httpAgent: { maxSockets: FANOUT_CONCURRENCY, keepAlive: true } },
  });
  cleanups.push(() => management.destroy());
  const post = makePoster(management);
  const snapshotDeps = { flags, connections, post, logger };
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
      connect: makeConnectHandler({ connections }),
      disconnect: makeDisconnectHandler({ connections }),
      message: makeDefaultHandler(snapshotDeps),
    },
    credentials,
  );
  const discard = (table: string) => (records: unknown[], error: unknown) =>
    logger.error("stream records discarded after retries", { table, count: records.length, error: error as Error });

  server.on("request", async (request, response) => {
    try {
      let path: string;
      try {
        path = new URL(request.url ?? "/", "http://local").pathname;
      } catch {
        // A request-target no URL parser accepts (e.g. `//[`): API Gateway refuses those too.
        response.writeHead(400, { "Content-Type": "application/json" });
        response.end(JSON.stringify(errorBody("VALIDATION_FAILED", "the request path is not a valid URL path")));
        return;
      }
      if (websocket.handleManagementRequest(request, response, path)) return;
      const matched = match(request.method ?? "", path);
      let authorizer: Record<string, string> | null = null;
      // What API Gateway and the REST authorizer do before a guarded route's handler runs.
      if (matched !== undefined && matched.route.scope !== null) {
        const principal = verifyToken(bearerToken(request.headers.authorization), tokenRecords);
        if (principal === undefined) return unauthenticated(response);
        authorizer = principalContext(principal);
      }
      const event = await toProxyEvent(request, matched, { authorizer });
      writeProxyResult(response, await restHandler(event));
    } catch (error) {
      if (error instanceof RangeError) return tooLarge(response);
      response.destroy(error as Error);
    }
  });

  try {
    const started = [
      await startStreamPoller({
        dynamo: client,
        endpoint: dynamoEndpoint,
        tableName,
        handler: makeFanoutHandler({ connections, post, logger }),
        onDiscard: discard(tableName),
      }),
      await startStreamPoller({
        dynamo: client,
        endpoint: dynamoEndpoint,
        tableName: connectionsTableName,
        handler: makeSnapshotHandler(snapshotDeps),
        filter: SNAPSHOT_FILTER,
        onDiscard: discard(connectionsTableName),
      }),
    ];
    if (options.auditDataDir !== undefined) {
      started.push(
        await startAuditWriter({
          dynamo: client,
          endpoint: dynamoEndpoint,
          tableName,
          dataDir: options.auditDataDir,
          logger,
        }),
      );
    }
    for (const poller of started) cleanups.push(() => poller.stop());
    // Sockets close first on stop, so their $disconnect handlers run while the tables still exist.
    cleanups.push(() => websocket.close());
  } catch (error) {
    await stopAll();
    throw error;
  }

  return {
    url,
    websocketUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    dynamoEndpoint,
    tableName,
    connectionsTableName,
    stop: stopAll,
  };
}
