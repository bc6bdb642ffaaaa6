/** The local service's HTTP server: bound first, Node's own refusals in the contract's shape, and how it stops. */
import * as http from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "../handlers/errors";
import { errorBody } from "../handlers/http";
import { StartupError } from "./preflight";
import type { Teardown } from "./teardown";

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
export function stopAccepting(server: http.Server): void {
  if (server.listening) server.close();
  server.closeAllConnections();
}

/** Step: bind the port first, so a port in use fails before anything slow starts. */
export async function listen(port: number, teardown: Teardown): Promise<http.Server> {
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
