/**
 * Providers, server and web, connected while the local runtime restarts on the same port, over and
 * over: every one READY again each time, within its backoff cap, and live (it sees the next
 * change). A connection that reaches the runtime while it starts is answered 503, never held; a
 * handshake nobody answers is given up and retried.
 */
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { FeatureFlagsProvider, FeatureFlagsWebProvider } from "@feature-flags/openfeature-provider";
import { OpenFeature as ServerFeature, ProviderStatus as ServerStatus } from "@openfeature/server-sdk";
import { OpenFeature as WebFeature, ProviderStatus as WebStatus } from "@openfeature/web-sdk";
import WebSocket from "ws";
import { type RunningService, type ServiceOptions, startService } from "../../local/service";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { type Client, client } from "../support/http";
import { javaProcessesFor, waitFor } from "../support/processes";
import { EVENT, recordEvents } from "../support/providerEvents";
import { isLoopback, listeningSockets, processTree } from "../support/sockets";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const BACKOFF = { initialMs: 100, maxMs: 1000 };
/** Beyond the backoff cap: the handshake and the snapshot, on a machine shared with other work. */
const SLACK_MS = 5000;
const PROJECT_ROOT = path.resolve(__dirname, "../..");

interface Watched {
  name: string;
  events: ReturnType<typeof recordEvents>;
  status: () => string;
  counter: () => Promise<number>;
}

let domains = 0;
/** Every provider a test opened: closed after it, so none keeps reconnecting during later tests. */
const opened: Array<{ onClose(): Promise<void> }> = [];

/** Three server providers and two web providers on `url`, each in its own domain, all READY. */
async function connectProviders(url: string): Promise<Watched[]> {
  const options = { url, token: READ_TOKEN, backoff: BACKOFF, logger: quiet, graceMs: 2000 };
  const watched: Watched[] = [];
  for (let i = 0; i < 3; i++) {
    const domain = `restart-server-${++domains}`;
    const clientOf = ServerFeature.getClient(domain);
    const events = recordEvents(clientOf, [EVENT.ready, EVENT.stale, EVENT.error]);
    const provider = new FeatureFlagsProvider(options);
    opened.push(provider);
    await ServerFeature.setProviderAndWait(domain, provider);
    watched.push({
      name: domain,
      events,
      status: () => clientOf.providerStatus,
      counter: () => clientOf.getNumberValue("counter", -1),
    });
  }
  for (let i = 0; i < 2; i++) {
    const domain = `restart-web-${++domains}`;
    const clientOf = WebFeature.getClient(domain);
    const events = recordEvents(clientOf, [EVENT.ready, EVENT.stale, EVENT.error]);
    // Node 20 has no global WebSocket: `ws` in its place, as a browser's would be.
    const provider = new FeatureFlagsWebProvider({ ...options, WebSocket: WebSocket as never });
    opened.push(provider);
    await WebFeature.setProviderAndWait(domain, provider);
    watched.push({
      name: domain,
      events,
      status: () => clientOf.providerStatus,
      counter: async () => clientOf.getNumberValue("counter", -1),
    });
  }
  return watched;
}

/**
 * After a restart (`since`: each provider's event count before it), waits until every provider is
 * READY again, asserts it took at most the backoff cap (plus slack) from `backAt`, and that every
 * one then sees a change made now.
 */
async function assertAllBack(watched: Watched[], since: number[], backAt: number, api: Client, round: number) {
  await Promise.all(watched.map((w, i) => w.events.next(EVENT.ready, since[i], BACKOFF.maxMs + SLACK_MS + 30_000)));
  const tookMs = Date.now() - backAt;
  assert.ok(tookMs <= BACKOFF.maxMs + SLACK_MS, `round ${round}: every provider READY only ${tookMs} ms after`);
  for (const w of watched) {
    assert.ok(w.status() === ServerStatus.READY || w.status() === WebStatus.READY, `${w.name}: ${w.status()}`);
  }
  const put = await api("PUT", "/flags/counter", { body: { value: round } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const live = await waitFor(
    async () => (await Promise.all(watched.map((w) => w.counter()))).every((v) => v === round),
    10_000,
  );
  assert.ok(live, `round ${round}: counters ${JSON.stringify(await Promise.all(watched.map((w) => w.counter())))}`);
}

/** Resolves with the first bytes a raw WebSocket upgrade gets back (rejects after 5 s: left hanging). */
function upgradeAnswer(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write(
        `GET /ws?token=${READ_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      ),
    );
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.includes("\r\n\r\n")) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error("the upgrade was accepted and left unanswered for 5 s"));
    });
  });
}

const closeOpened = async () => {
  await Promise.all(opened.splice(0).map((provider) => provider.onClose()));
};

describe("providers across restarts of the local runtime on the same port", () => {
  afterEach(closeOpened);

  it("come back READY, every one, server and web, after each of 8 restarts of the service", async () => {
    const dynamo = await sharedDynamo();
    const options: ServiceOptions = {
      port: 0,
      dynamoEndpoint: dynamo.endpoint,
      tableName: uniqueTableName("restart"),
      connectionsTableName: uniqueTableName("restart-connections"),
      allowFlagDeletion: () => true,
      tokens: TEST_TOKENS,
    };
    let service: RunningService = await startService(options);
    const port = service.port;
    try {
      const api = client(service.url, ADMIN_TOKEN);
      await api("POST", "/flags", { body: { flagName: "counter", value: 0 } });
      const watched = await connectProviders(service.websocketUrl);

      for (let round = 1; round <= 8; round++) {
        const since = watched.map((w) => w.events.seen.length);
        await service.stop();
        service = await startService({ ...options, port });
        await assertAllBack(watched, since, Date.now(), api, round);
      }
    } finally {
      await service.stop();
    }
  });

  describe("the runtime's process (local/main.ts, with its own DynamoDB Local)", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-restart-"));
    let child: ChildProcess | undefined;
    after(async () => {
      if (child !== undefined) await stopRuntime(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    /** Starts it on `port`; while it starts, probes the port: answered 503, never held. */
    async function startRuntime(port: number) {
      const started = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "local/main.ts"], {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          PORT: String(port),
          FLAGS_DATA_DIR: dataDir,
          FLAGS_ADMIN_TOKEN: ADMIN_TOKEN,
          FLAGS_READ_TOKEN: READ_TOKEN,
          POWERTOOLS_LOG_LEVEL: "SILENT",
          NODE_NO_WARNINGS: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child = started;
      let probes: Promise<[{ status: number; code: unknown }, string]> | undefined;
      const noUnhandled = () => undefined;
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          // The port is bound before DynamoDB Local starts, and DynamoDB Local takes seconds.
          if (probes === undefined && output.includes("starting DynamoDB Local")) {
            probes = Promise.all([
              fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).then(
                async (response) => ({
                  status: response.status,
                  code: ((await response.json()) as { error?: { code?: unknown } }).error?.code,
                }),
              ),
              upgradeAnswer(port),
            ]);
            // Awaited once ready; until then a failure must not count as unhandled.
            probes.catch(noUnhandled);
          }
          if (/^ready http:\/\/127\.0\.0\.1:\d+$/m.test(output)) resolve();
        };
        started.stdout.on("data", onData);
        started.stderr.on("data", onData);
        started.once("exit", (code) => reject(new Error(`exited with ${code} before ready:\n${output}`)));
      });
      assert.ok(probes !== undefined, `never saw the progress line:\n${output}`);
      const [health, upgrade] = await probes;
      assert.deepEqual(health, { status: 503, code: "DEPENDENCY_UNAVAILABLE" });
      assert.match(upgrade, /^HTTP\/1\.1 503 /);
      return started;
    }

    async function stopRuntime(running: ChildProcess) {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill("SIGTERM");
        await exited;
      }
      assert.ok(await waitFor(() => javaProcessesFor(dataDir).length === 0, 15_000), "Java outlived the service");
    }

    it("answers 503 while it starts, listens on loopback only, and every provider comes back after each restart", async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
          const { port: free } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(free));
        });
      });
      let running = await startRuntime(port);
      const runtimeSockets = processTree(running.pid as number).flatMap((pid) => listeningSockets(pid));
      assert.ok(runtimeSockets.length >= 2, JSON.stringify(runtimeSockets)); // the service and DynamoDB Local
      for (const socket of runtimeSockets) assert.ok(isLoopback(socket.address), JSON.stringify(socket));
      const api = client(`http://127.0.0.1:${port}`, ADMIN_TOKEN);
      await api("POST", "/flags", { body: { flagName: "counter", value: 0 } });
      const watched = await connectProviders(`ws://127.0.0.1:${port}/ws`);

      for (let round = 1; round <= 2; round++) {
        const since = watched.map((w) => w.events.seen.length);
        await stopRuntime(running);
        running = await startRuntime(port);
        await assertAllBack(watched, since, Date.now(), api, round);
      }
    });
  });
});

describe("a handshake the service never answers", () => {
  afterEach(closeOpened);

  it("is given up after handshakeTimeoutMs and retried, until the provider is READY", async () => {
    const dynamo = await sharedDynamo();
    const service = await startService({
      port: 0,
      dynamoEndpoint: dynamo.endpoint,
      tableName: uniqueTableName("handshake"),
      connectionsTableName: uniqueTableName("handshake-connections"),
      allowFlagDeletion: () => true,
      tokens: TEST_TOKENS,
    });
    // Accepts every connection; holds the first two without a byte in answer, passes the rest on.
    let accepted = 0;
    let givenUp = 0;
    const front = net.createServer((socket) => {
      socket.on("error", () => socket.destroy());
      if (++accepted <= 2) {
        socket.resume();
        socket.once("end", () => {
          givenUp += 1;
          socket.destroy();
        });
        return;
      }
      const upstream = net.connect(service.port, "127.0.0.1");
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    const provider = new FeatureFlagsProvider({
      url: `ws://127.0.0.1:${(front.address() as net.AddressInfo).port}/ws`,
      token: READ_TOKEN,
      handshakeTimeoutMs: 300,
      backoff: { initialMs: 50, maxMs: 100 },
      graceMs: 20_000,
      logger: quiet,
    });
    opened.push(provider);
    try {
      const started = Date.now();

      await ServerFeature.setProviderAndWait(`handshake-${++domains}`, provider);

      assert.equal(accepted, 3);
      assert.ok(Date.now() - started >= 600, `READY after ${Date.now() - started} ms`);
      assert.ok(await waitFor(() => givenUp === 2, 5000), "the unanswered connections were left open");
    } finally {
      await provider.onClose();
      front.close();
      await service.stop();
    }
  });
});
