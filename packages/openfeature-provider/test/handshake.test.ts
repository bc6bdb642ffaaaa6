/**
 * How the provider treats the answers to its WebSocket handshake: no answer in time is a failed
 * attempt, retried; a 401/403 is FATAL only when a serving service refuses the token.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ProviderFatalError } from "@openfeature/core";
import NodeWebSocket, { WebSocketServer } from "ws";
import { isTokenRefusal } from "../src/handshake";
import { FeatureFlagsProvider } from "../src/server";
import type { WebSocketConstructor } from "../src/sync";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const body = (code: string) => JSON.stringify({ error: { code, message: "…" } });

describe("isTokenRefusal", () => {
  it("is true for a 401 or 403 with the contract's error body", () => {
    assert.equal(isTokenRefusal({ status: 401, headers: {}, body: body("UNAUTHENTICATED") }), true);
    assert.equal(isTokenRefusal({ status: 403, headers: {}, body: body("FORBIDDEN") }), true);
  });

  it("is true for API Gateway's own refusal of $connect", () => {
    assert.equal(isTokenRefusal({ status: 401, headers: {}, body: '{"message": "Unauthorized"}' }), true);
    assert.equal(isTokenRefusal({ status: 403, headers: { "x-amzn-requestid": "r-1" }, body: "" }), true);
  });

  it("is false for a bare 401, another body, or any other status (a service not serving yet)", () => {
    assert.equal(isTokenRefusal({ status: 401, headers: {}, body: "" }), false);
    assert.equal(isTokenRefusal({ status: 401, headers: {}, body: "<html>starting</html>" }), false);
    assert.equal(isTokenRefusal({ status: 503, headers: {}, body: body("DEPENDENCY_UNAVAILABLE") }), false);
    assert.equal(isTokenRefusal({ status: 503, headers: {}, body: body("UNAUTHENTICATED") }), false);
  });
});

type Answer = "silent" | "503" | "bare 401" | "401" | "403" | "serve";

/**
 * A stand-in for the service's WebSocket: its n-th handshake gets `answers[n]` (the last one from
 * then on); "serve" completes it and sends an empty snapshot.
 */
async function fakeService(answers: Answer[]) {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const held = new Set<Duplex>();
  let handshakes = 0;
  let closedByClient = 0;
  const onClosed = new Set<() => void>();
  const refuse = (socket: Duplex, status: string, text = "") =>
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  server.on("upgrade", (request, socket, head) => {
    const answer = answers[Math.min(handshakes++, answers.length - 1)];
    socket.on("error", () => socket.destroy());
    if (answer === "silent") {
      held.add(socket);
      // Read (and drop) what comes, so the client's close is noticed: its end (the HTTP server
      // keeps its side half-open).
      socket.resume();
      socket.once("end", () => {
        socket.destroy();
        held.delete(socket);
        closedByClient += 1;
        for (const wake of onClosed) wake();
      });
    } else if (answer === "503") refuse(socket, "503 Service Unavailable", body("DEPENDENCY_UNAVAILABLE"));
    else if (answer === "bare 401") refuse(socket, "401 Unauthorized");
    else if (answer === "401") refuse(socket, "401 Unauthorized", body("UNAUTHENTICATED"));
    else if (answer === "403") refuse(socket, "403 Forbidden", body("FORBIDDEN"));
    else {
      wss.handleUpgrade(request, socket, head, (ws) =>
        ws.send(JSON.stringify({ type: "snapshot", part: 1, parts: 1, flags: [], evaluators: {} })),
      );
    }
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    handshakes: () => handshakes,
    /** Resolves once the client has given up on and closed `count` silent handshakes. */
    closedByClient: (count: number) =>
      new Promise<void>((resolve) => {
        const wake = () => {
          if (closedByClient < count) return;
          onClosed.delete(wake);
          resolve();
        };
        onClosed.add(wake);
        wake();
      }),
    held: () => held.size,
    async stop() {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("FeatureFlagsProvider's handshake", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const start = async (answers: Answer[], options: { handshakeTimeoutMs?: number } = {}) => {
    const service = await fakeService(answers);
    const provider = new FeatureFlagsProvider({
      url: service.url,
      token: "a-token-of-24-characters-or-more",
      WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
      backoff: { initialMs: 20, maxMs: 50 },
      // Longer than any test: initialize() settles on READY or FATAL, not on this.
      graceMs: 20_000,
      logger: quiet,
      ...options,
    });
    cleanups.push(async () => {
      await provider.onClose();
      await service.stop();
    });
    return { service, provider };
  };

  it("gives up on a handshake not answered within handshakeTimeoutMs, closes it, and retries until READY", async () => {
    const { service, provider } = await start(["silent", "silent", "serve"], { handshakeTimeoutMs: 200 });

    const started = Date.now();
    await provider.initialize();

    assert.equal(service.handshakes(), 3);
    await service.closedByClient(2);
    assert.equal(service.held(), 0);
    assert.ok(Date.now() - started >= 400, `READY after ${Date.now() - started} ms: timed out too early`);
  });

  it("retries a 503 (a service still starting) until READY", async () => {
    const { service, provider } = await start(["503", "503", "serve"]);

    await provider.initialize();

    assert.equal(service.handshakes(), 3);
  });

  it("retries a 401 without the contract's body (not a serving service's answer) until READY", async () => {
    const { service, provider } = await start(["bare 401", "serve"]);

    await provider.initialize();

    assert.equal(service.handshakes(), 2);
  });

  for (const status of ["401", "403"] as const) {
    it(`is FATAL at once on a ${status} with the contract's body, with no retries`, async () => {
      const { service, provider } = await start([status, "serve"]);

      await assert.rejects(provider.initialize(), ProviderFatalError);

      // With 20–50 ms backoff a retrying provider would have connected again by now.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(service.handshakes(), 1);
    });
  }

  it("says why a 403 is final: a client key cannot use the WebSocket, use OFREP's web provider", async () => {
    const { provider } = await start(["403", "serve"]);

    await assert.rejects(provider.initialize(), (error: Error) => {
      assert.ok(error instanceof ProviderFatalError);
      assert.match(error.message, /HTTP 403/);
      assert.match(error.message, /client key .*cannot use the WebSocket/);
      assert.match(error.message, /@openfeature\/ofrep-web-provider/);
      return true;
    });
  });

  it("does not blame a client key for a 401 (an unknown token)", async () => {
    const { provider } = await start(["401"]);

    await assert.rejects(provider.initialize(), (error: Error) => {
      assert.match(error.message, /HTTP 401/);
      assert.doesNotMatch(error.message, /client key/);
      return true;
    });
  });
});
