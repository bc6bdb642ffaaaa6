/**
 * The service binds its port before anything slow starts (so a port in use fails first), and then
 * spends seconds starting DynamoDB Local. A connection that arrives meanwhile must not be accepted
 * and left unanswered: a provider reconnecting after a restart would wait on it for good. Until the
 * gate opens, every request and WebSocket upgrade is answered 503 DEPENDENCY_UNAVAILABLE with the
 * contract's error body (never 401: a client treats that as a refused token).
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { corsHeaders, errorBody } from "../handlers/http";

export interface StartupGate {
  /** Attach the service's `request` and `upgrade` listeners here: they get traffic once open. */
  readonly routes: EventEmitter;
  /** The service serves: from now on requests and upgrades go to `routes`. */
  open(): void;
}

const STARTING = JSON.stringify(errorBody("DEPENDENCY_UNAVAILABLE", "the service is starting; retry shortly"));

function refuseRequest(request: IncomingMessage, response: ServerResponse, corsOrigins: readonly string[]): void {
  response.writeHead(503, {
    "Content-Type": "application/json",
    "Retry-After": "1",
    Connection: "close",
    ...corsHeaders(request.headers.origin, corsOrigins),
  });
  response.end(STARTING);
}

function refuseUpgrade(socket: Duplex): void {
  socket.on("error", () => socket.destroy());
  socket.end(
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n" +
      `Content-Length: ${Buffer.byteLength(STARTING)}\r\nConnection: close\r\n\r\n${STARTING}`,
  );
}

/** Puts `server`'s requests and upgrades behind a gate that answers 503 until `open()`. */
export function gateUntilServing(server: Server, options: { corsOrigins?: readonly string[] } = {}): StartupGate {
  const routes = new EventEmitter();
  const corsOrigins = options.corsOrigins ?? [];
  let serving = false;
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    if (serving) routes.emit("request", request, response);
    else refuseRequest(request, response, corsOrigins);
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (serving) routes.emit("upgrade", request, socket, head);
    else refuseUpgrade(socket);
  });
  return {
    routes,
    open: () => {
      serving = true;
    },
  };
}
