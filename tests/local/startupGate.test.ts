import { strict as assert } from "node:assert";
import * as http from "node:http";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import { gateUntilServing, type StartupGate } from "../../local/startupGate";

/** Sends `request` raw and resolves with everything the server sent until it closed (fails after 5 s). */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no answer within 5 s; got ${JSON.stringify(received)}`));
    });
  });
}

const upgrade = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

describe("the start-up gate (local runtime)", () => {
  let server: http.Server;
  let gate: StartupGate;
  let port: number;

  beforeEach(async () => {
    server = http.createServer();
    gate = gateUntilServing(server, { corsOrigins: ["https://console.example"] });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("answers a request that arrives while the service starts with 503 DEPENDENCY_UNAVAILABLE and the error body", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`, {
      headers: { Origin: "https://console.example" },
    });

    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal(response.headers.get("access-control-allow-origin"), "https://console.example");
    assert.match(response.headers.get("access-control-expose-headers") ?? "", /\bRetry-After\b/);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "DEPENDENCY_UNAVAILABLE");
  });

  it("names no origin it was not given on that 503", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { headers: { Origin: "https://evil.example" } });

    assert.equal(response.status, 503);
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  });

  it("answers a WebSocket upgrade while the service starts with 503 (not 401), then closes", async () => {
    const answer = await exchange(port, upgrade("/ws?token=whatever"));

    const [head, body] = answer.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 503 /);
    assert.equal(JSON.parse(body).error.code, "DEPENDENCY_UNAVAILABLE");
  });

  it("passes requests and upgrades to the routes once open", async () => {
    gate.routes.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) =>
      response.end("served"),
    );
    gate.routes.on("upgrade", (_request: http.IncomingMessage, socket: Duplex) =>
      socket.end("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );

    gate.open();

    assert.equal(await (await fetch(`http://127.0.0.1:${port}/health`)).text(), "served");
    assert.match(await exchange(port, upgrade("/ws")), /^HTTP\/1\.1 418 /);
  });
});
