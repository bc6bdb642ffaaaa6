import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@aws-lambda-powertools/logger";
import { type WebSocket, WebSocketServer } from "ws";
import { errorBody } from "../handlers/http";
import type { WebSocketEvent, WebSocketResult } from "../handlers/realtime/handlers";

/** The WebSocket API's handlers, as the Realtime component routes them. */
export interface WebSocketRoutes {
  /**
   * `$connect` authorizer, as API Gateway applies one: an Allow passes its context on to
   * `$connect`, a Deny refuses the handshake with 403, and a rejection (the authorizer threw
   * `Unauthorized`) with 401.
   */
  authorize: (query: Record<string, string>) => Promise<AuthorizerDecision>;
  connect: (event: WebSocketEvent) => Promise<WebSocketResult>;
  disconnect: (event: WebSocketEvent) => Promise<WebSocketResult>;
  message: (event: WebSocketEvent) => Promise<WebSocketResult>;
}

/** What a `$connect` authorizer's policy decided. */
export type AuthorizerDecision = { effect: "Allow"; context: Record<string, string> } | { effect: "Deny" };

/** What one connection may cost the server, whatever its client does. */
export interface WebSocketLimits {
  /** Unsent bytes queued for one client before it is closed with 1013. Default 4 MiB. */
  maxBufferedBytes: number;
  /** A ping goes out this often; a client that has not answered the previous one is closed (1008). Default 30 s. */
  pingIntervalMs: number;
  /** Messages a client may send in a burst, then `messagesPerSecond`; past that it is closed (1008). */
  messageBurst: number;
  messagesPerSecond: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: WebSocketLimits = {
  maxBufferedBytes: 4 * 1024 * 1024,
  pingIntervalMs: 30_000,
  messageBurst: 20,
  messagesPerSecond: 5,
};

/** Connections closed by the server, by cause: the local runtime's stand-in for CloudWatch metrics. */
export interface WebSocketMetrics {
  /** Closed with 1002, 1007 or 1009 for a frame the protocol forbids. */
  protocolErrors: number;
  /** Closed with 1013: unsent messages passed `maxBufferedBytes`. */
  closedTooSlow: number;
  /** Closed with 1008: did not answer a ping. */
  closedUnresponsive: number;
  /** Closed with 1008: sent messages faster than the rate limit. */
  closedRateLimited: number;
}

/**
 * The Management API (`POST`/`DELETE /@connections/{id}`) as an in-process request handler for
 * the SDK's ApiGatewayManagementApiClient: the handlers post through the real client, and no port
 * exposes the route. Shaped like the SDK's HttpHandler (smithy), which the client calls directly.
 */
export interface InProcessHandler {
  handle(request: {
    method: string;
    path: string;
    body?: unknown;
  }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }>;
  updateHttpClientConfig(): void;
  httpHandlerConfigs(): Record<string, never>;
  destroy(): void;
}

export interface LocalWebSocketApi {
  /** Pass as `requestHandler` to the ApiGatewayManagementApiClient the handlers post through. */
  readonly managementHandler: InProcessHandler;
  metrics(): Readonly<WebSocketMetrics>;
  close(): Promise<void>;
}

/** An id shaped like API Gateway's (12 random bytes, base64). */
const newConnectionId = () => randomBytes(12).toString("base64");

/**
 * A refusal about the token carries the contract's error body: that is how a client tells the
 * serving service refusing its token (FATAL, no retry can help) from a proxy's or a starting
 * service's answer (retried).
 */
const TOKEN_REFUSALS: Partial<Record<number, string>> = {
  401: JSON.stringify(errorBody("UNAUTHENTICATED", "send a valid token with the read scope as ?token=<token>")),
  403: JSON.stringify(
    errorBody(
      "FORBIDDEN",
      "this token may not open the WebSocket: it needs the read scope (a client key evaluates over OFREP only)",
    ),
  ),
};

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = TOKEN_REFUSALS[status] ?? "";
  const type = body === "" ? "" : "Content-Type: application/json\r\n";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n${type}Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** One client's state beyond the socket: liveness and its message queue. */
interface Connection {
  ws: WebSocket;
  alive: boolean;
  tokens: number;
  refilledAt: number;
  /** A `$default` invocation is running; messages meanwhile coalesce into `queued`. */
  busy: boolean;
  queued: string | undefined;
}

/** Closes with `code`, and drops the socket if the close cannot reach a client that stopped reading. */
function closeConnection(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === ws.CLOSED) return;
  ws.close(code, reason);
  setTimeout(() => ws.terminate(), 1000).unref();
}

const text = (body: unknown): string =>
  typeof body === "string" ? body : body instanceof Uint8Array ? Buffer.from(body).toString("utf8") : "";

/**
 * API Gateway's WebSocket API on the local server: upgrades at `path` run the `$connect`
 * authorizer and handler before the handshake completes, messages go to `$default`, closes to
 * `$disconnect`; and the Management API delivers to a socket. Like API Gateway, it protects
 * itself from every client: protocol errors close that connection only, each connection's queue
 * is capped, silent clients are pinged out, and message floods are cut off.
 */
export function attachWebSocketApi(
  server: EventEmitter,
  path: string,
  routes: WebSocketRoutes,
  logger: Pick<Logger, "warn" | "error">,
  limits: Partial<WebSocketLimits> = {},
): LocalWebSocketApi {
  const { maxBufferedBytes, pingIntervalMs, messageBurst, messagesPerSecond } = {
    ...DEFAULT_WEBSOCKET_LIMITS,
    ...limits,
  };
  const connections = new Map<string, Connection>();
  const metrics: WebSocketMetrics = {
    protocolErrors: 0,
    closedTooSlow: 0,
    closedUnresponsive: 0,
    closedRateLimited: 0,
  };
  /** $disconnect invocations still running; close() waits for them before the tables go away. */
  const disconnecting = new Set<Promise<unknown>>();
  // API Gateway's message limit (128 KiB), so oversize messages fail here (1009) as they would there.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 });

  const event = (connectionId: string, routeKey: string, extra: Partial<WebSocketEvent> = {}): WebSocketEvent => ({
    ...extra,
    requestContext: { connectionId, routeKey, ...extra.requestContext },
  });

  /** Runs `$default` for one message at a time per connection; a flood coalesces into one more. */
  const dispatch = (connectionId: string, connection: Connection, body: string) => {
    if (connection.busy) {
      connection.queued = body;
      return;
    }
    connection.busy = true;
    routes
      .message(event(connectionId, "$default", { body }))
      .catch((error: unknown) => logger.error("websocket $default failed", { connectionId, error: error as Error }))
      .finally(() => {
        connection.busy = false;
        const next = connection.queued;
        connection.queued = undefined;
        if (next !== undefined && connection.ws.readyState === connection.ws.OPEN) {
          dispatch(connectionId, connection, next);
        }
      });
  };

  /** Token bucket per connection: false once the client sends faster than the limit allows. */
  const withinRate = (connection: Connection): boolean => {
    const now = Date.now();
    connection.tokens = Math.min(
      messageBurst,
      connection.tokens + ((now - connection.refilledAt) / 1000) * messagesPerSecond,
    );
    connection.refilledAt = now;
    if (connection.tokens < 1) return false;
    connection.tokens -= 1;
    return true;
  };

  const accept = (connectionId: string, ws: WebSocket) => {
    const connection: Connection = {
      ws,
      alive: true,
      tokens: messageBurst,
      refilledAt: Date.now(),
      busy: false,
      queued: undefined,
    };
    connections.set(connectionId, connection);
    // ws closes the connection itself with the right code (1002, 1007, 1009) and then emits
    // `error`; without this listener that error would be uncaught and end the process.
    ws.on("error", (error: Error & { code?: string }) => {
      metrics.protocolErrors += 1;
      logger.warn("websocket client broke the protocol; connection closed", {
        connectionId,
        code: error.code,
        reason: error.message,
      });
    });
    ws.on("pong", () => (connection.alive = true));
    ws.on("message", (data, isBinary) => {
      // Frames already received when the connection was closed are not acted on.
      if (ws.readyState !== ws.OPEN) return;
      if (!withinRate(connection)) {
        metrics.closedRateLimited += 1;
        logger.warn("websocket client sent too fast; connection closed", { connectionId });
        closeConnection(ws, 1008, "message rate exceeded");
        return;
      }
      dispatch(connectionId, connection, isBinary ? "" : data.toString());
    });
    ws.on("close", () => {
      connections.delete(connectionId);
      const done = routes
        .disconnect(event(connectionId, "$disconnect"))
        .catch((error: unknown) =>
          logger.error("websocket $disconnect failed", { connectionId, error: error as Error }),
        )
        .finally(() => disconnecting.delete(done));
      disconnecting.add(done);
    });
  };

  const onUpgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client may reset while $connect runs; unhandled, that error would end the process.
    socket.on("error", () => socket.destroy());
    const url = new URL(request.url ?? "/", "http://local");
    if (url.pathname !== path) return refuseUpgrade(socket, 404, "Not Found");
    const connectionId = newConnectionId();
    try {
      let decision: AuthorizerDecision;
      try {
        decision = await routes.authorize(Object.fromEntries(url.searchParams));
      } catch {
        return refuseUpgrade(socket, 401, "Unauthorized");
      }
      if (decision.effect !== "Allow") return refuseUpgrade(socket, 403, "Forbidden");
      const authorizer = decision.context;
      const connected = await routes.connect(
        event(connectionId, "$connect", { requestContext: { connectionId, routeKey: "$connect", authorizer } }),
      );
      if (connected.statusCode !== 200) return refuseUpgrade(socket, connected.statusCode, "Refused");
    } catch (error) {
      logger.error("websocket $connect failed", { error: error as Error });
      return refuseUpgrade(socket, 500, "Internal Server Error");
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(connectionId, ws));
  };
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void onUpgrade(request, socket, head);
  });

  const heartbeat = setInterval(() => {
    for (const [connectionId, connection] of connections) {
      if (!connection.alive) {
        metrics.closedUnresponsive += 1;
        logger.warn("websocket client did not answer a ping; connection closed", { connectionId });
        closeConnection(connection.ws, 1008, "no pong");
        continue;
      }
      connection.alive = false;
      connection.ws.ping();
    }
  }, pingIntervalMs);
  heartbeat.unref();

  const respond = (statusCode: number, body?: object, errorType?: string) => ({
    response: {
      statusCode,
      headers: {
        "content-type": "application/json",
        ...(errorType === undefined ? {} : { "x-amzn-errortype": errorType }),
      },
      body: Buffer.from(body === undefined ? "" : JSON.stringify(body)),
    },
  });

  const managementHandler: InProcessHandler = {
    async handle(request) {
      const match = /^\/@connections\/([^/?]+)$/.exec(request.path);
      if (match === null) return respond(404, { message: "not found" }, "NotFoundException");
      const connectionId = decodeURIComponent(match[1]);
      const connection = connections.get(connectionId);
      if (connection === undefined || connection.ws.readyState !== connection.ws.OPEN) {
        return respond(410, { message: `connection ${connectionId} is gone` }, "GoneException");
      }
      const { ws } = connection;
      if (request.method === "DELETE") {
        ws.close(1000);
        return respond(204);
      }
      const data = text(request.body);
      // API Gateway refuses a message over 128 KiB; so does its stand-in, so nothing works here
      // that would fail there.
      if (Buffer.byteLength(data) > 128 * 1024) {
        return respond(413, { message: "Message too long" }, "PayloadTooLargeException");
      }
      // Queued, not awaited: a client that stops reading must not hold up the caller, who is
      // posting to every other client too. Its queue is what is capped instead.
      if (ws.bufferedAmount > 0 && ws.bufferedAmount + Buffer.byteLength(data) > maxBufferedBytes) {
        metrics.closedTooSlow += 1;
        logger.warn("websocket client fell too far behind; connection closed", {
          connectionId,
          bufferedBytes: ws.bufferedAmount,
        });
        closeConnection(ws, 1013, "too far behind; reconnect");
        return respond(410, { message: `connection ${connectionId} is gone` }, "GoneException");
      }
      ws.send(data);
      return respond(200);
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };

  return {
    managementHandler,
    metrics: () => ({ ...metrics }),
    async close() {
      clearInterval(heartbeat);
      const sockets = [...connections.values()].map((c) => c.ws);
      const closed = sockets.map((ws) => new Promise((resolve) => ws.once("close", resolve)));
      for (const ws of sockets) ws.terminate();
      await Promise.all(closed);
      await Promise.all(disconnecting);
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}
