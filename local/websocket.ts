import { randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { WebSocketEvent, WebSocketResult } from "../handlers/realtime/handlers";

/** The WebSocket API's handlers, as the Realtime component routes them. */
export interface WebSocketRoutes {
  /** `$connect` authorizer: resolves the authorizer context, or rejects (→ 401). */
  authorize: (query: Record<string, string>) => Promise<Record<string, string>>;
  connect: (event: WebSocketEvent) => Promise<WebSocketResult>;
  disconnect: (event: WebSocketEvent) => Promise<WebSocketResult>;
  message: (event: WebSocketEvent) => Promise<WebSocketResult>;
}

export interface LocalWebSocketApi {
  /** Answers `/@connections/{id}` requests (the API Gateway Management API); false if not one. */
  handleManagementRequest(request: IncomingMessage, response: ServerResponse, path: string): boolean;
  close(): Promise<void>;
}

/**
 * Credentials for the local Management API. It is IAM-signed on AWS; here a per-process key that
 * only this service's own client knows stands in for that.
 */
export function localManagementCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: `LOCAL${randomBytes(8).toString("hex").toUpperCase()}`, secretAccessKey: "local" };
}

/** An id shaped like API Gateway's (12 random bytes, base64). */
const newConnectionId = () => randomBytes(12).toString("base64");

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * API Gateway's WebSocket API on the local server: upgrades at `path` run the `$connect`
 * authorizer and handler before the handshake completes, messages go to `$default`, closes to
 * `$disconnect`; and `POST /@connections/{id}` delivers to a socket as the Management API does.
 */
export function attachWebSocketApi(
  server: Server,
  path: string,
  routes: WebSocketRoutes,
  credentials: { accessKeyId: string },
): LocalWebSocketApi {
  const sockets = new Map<string, WebSocket>();
  /** $disconnect invocations still running; close() waits for them before the tables go away. */
  const disconnecting = new Set<Promise<unknown>>();
  // API Gateway's frame limit, so oversize messages fail here as they would there.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 });

  const event = (connectionId: string, routeKey: string, extra: Partial<WebSocketEvent> = {}): WebSocketEvent => ({
    ...extra,
    requestContext: { connectionId, routeKey, ...extra.requestContext },
  });

  server.on("upgrade", async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? "/", "http://local");
    if (url.pathname !== path) return refuseUpgrade(socket, 404, "Not Found");
    const connectionId = newConnectionId();
    try {
      let authorizer: Record<string, string>;
      try {
        authorizer = await routes.authorize(Object.fromEntries(url.searchParams));
      } catch {
        return refuseUpgrade(socket, 401, "Unauthorized");
      }
      const connected = await routes.connect(
        event(connectionId, "$connect", { requestContext: { connectionId, routeKey: "$connect", authorizer } }),
      );
      if (connected.statusCode !== 200) return refuseUpgrade(socket, connected.statusCode, "Refused");
    } catch (error) {
      console.error("websocket $connect failed", error);
      return refuseUpgrade(socket, 500, "Internal Server Error");
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.set(connectionId, ws);
      ws.on("message", (data) => {
        routes
          .message(event(connectionId, "$default", { body: data.toString() }))
          .catch((error: unknown) => console.error("websocket $default failed", error));
      });
      ws.on("close", () => {
        sockets.delete(connectionId);
        const done = routes
          .disconnect(event(connectionId, "$disconnect"))
          .catch((error: unknown) => console.error("websocket $disconnect failed", error))
          .finally(() => disconnecting.delete(done));
        disconnecting.add(done);
      });
    });
  });

  const gone = (response: ServerResponse, connectionId: string) => {
    response.writeHead(410, { "Content-Type": "application/json", "x-amzn-ErrorType": "GoneException" });
    response.end(JSON.stringify({ message: `connection ${connectionId} is gone` }));
  };

  return {
    handleManagementRequest(request, response, path) {
      const match = /^\/@connections\/([^/?]+)$/.exec(path);
      if (match === null) return false;
      if (!(request.headers.authorization ?? "").includes(`Credential=${credentials.accessKeyId}/`)) {
        response.writeHead(403, { "Content-Type": "application/json", "x-amzn-ErrorType": "ForbiddenException" });
        response.end(JSON.stringify({ message: "not signed with the local management credentials" }));
        return true;
      }
      const connectionId = decodeURIComponent(match[1]);
      const ws = sockets.get(connectionId);
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        if (ws === undefined || ws.readyState !== ws.OPEN) return gone(response, connectionId);
        if (request.method === "DELETE") {
          ws.close(1000);
          response.writeHead(204).end();
          return;
        }
        // API Gateway refuses a message over 128 KiB; so does its stand-in, so nothing works here
        // that would fail there.
        if (chunks.reduce((n, chunk) => n + chunk.length, 0) > 128 * 1024) {
          response.writeHead(413, {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "PayloadTooLargeException",
          });
          response.end(JSON.stringify({ message: "Message too long" }));
          return;
        }
        ws.send(Buffer.concat(chunks).toString("utf8"), (error) => {
          // ws reports success as null or undefined.
          if (error) return gone(response, connectionId);
          response.writeHead(200).end();
        });
      });
      return true;
    },
    async close() {
      const closed = [...sockets.values()].map((ws) => new Promise((resolve) => ws.once("close", resolve)));
      for (const ws of sockets.values()) ws.terminate();
      await Promise.all(closed);
      await Promise.all(disconnecting);
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}
