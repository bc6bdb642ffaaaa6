import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for API Gateway's Management API (`POST /@connections/{id}`): answers 410 Gone for
 * ids in `gone`, 413 for a message over API Gateway's 128 KiB, 200 otherwise, after `delayMs`.
 * Records what each connection was sent and the most posts it had in flight at once.
 */
export async function startFakeManagementApi(options: { delayMs?: number; gone?: Set<string> } = {}) {
  const received = new Map<string, string[]>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((request, response) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const id = decodeURIComponent((request.url ?? "").replace(/^\/@connections\//, ""));
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      setTimeout(() => {
        inFlight -= 1;
        if (options.gone?.has(id)) {
          response.writeHead(410, { "Content-Type": "application/json", "x-amzn-ErrorType": "GoneException" });
          response.end('{"message":"gone"}');
          return;
        }
        if (Buffer.byteLength(body) > 128 * 1024) {
          response.writeHead(413, {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "PayloadTooLargeException",
          });
          response.end('{"message":"Message too long"}');
          return;
        }
        received.set(id, [...(received.get(id) ?? []), body]);
        response.writeHead(200).end();
      }, options.delayMs ?? 0);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    maxInFlight: () => maxInFlight,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
