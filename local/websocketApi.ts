/** The local service's WebSocket API: `/ws` → the same `$connect`, `$disconnect` and `$default` handlers as on AWS. */
import type { EventEmitter } from "node:events";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import type { Logger } from "@aws-lambda-powertools/logger";
import { makeWebSocketAuthorizer } from "../handlers/auth/authorizers";
import { recordLookup, type TokenRecord } from "../handlers/auth/tokens";
import { evaluatorsByName } from "../handlers/evaluators/store";
import {
  makeConnectHandler,
  makeDefaultHandler,
  makeDisconnectHandler,
  type SnapshotDeps,
} from "../handlers/realtime/handlers";
import { makePoster, type Poster } from "../handlers/realtime/push";
import { LOCAL_REGION } from "./dynamodb";
import type { Stores } from "./stores";
import type { Teardown } from "./teardown";
import { attachWebSocketApi, type LocalWebSocketApi, type WebSocketLimits } from "./websocket";

/** What the stream consumers need of the WebSocket API: where to post, and the snapshot handler's deps. */
export interface RealtimeApi {
  websocket: LocalWebSocketApi;
  post: Poster;
  snapshotDeps: SnapshotDeps;
}

/** What this step reads of the service's options (`ServiceOptions` documents each). */
export interface WebSocketApiOptions {
  websocketLimits?: Partial<WebSocketLimits>;
}

/** Step: the WebSocket API, whose handlers post through the real Management API client, in process. */
export function startWebSocketApi(
  server: EventEmitter,
  stores: Stores,
  tokenRecords: TokenRecord[],
  logger: Logger,
  options: WebSocketApiOptions,
  teardown: Teardown,
): RealtimeApi {
  // Posts go through the socket server's in-process handler, created below with these handlers.
  const post: Poster = (connectionId, message) => poster(connectionId, message);
  const snapshotDeps: SnapshotDeps = {
    flags: stores.flags,
    connections: stores.connections,
    post,
    logger,
    evaluators: evaluatorsByName(stores.evaluators),
  };
  const wsAuthorizer = makeWebSocketAuthorizer({ tokens: recordLookup(tokenRecords) });
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
        // As API Gateway decides: allowed only when every statement allows (an explicit Deny wins).
        const statements = result.policyDocument.Statement;
        const allowed = statements.length > 0 && statements.every((statement) => statement.Effect === "Allow");
        return allowed ? { effect: "Allow", context: result.context as Record<string, string> } : { effect: "Deny" };
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
