/**
 * The browser provider under @openfeature/web-sdk, in Node, against the local runtime. Node 22+
 * has a global (browser-style) WebSocket and the test uses it; Node 20 has none, so `ws` is
 * passed in its place.
 */
import { strict as assert } from "node:assert";
import { FeatureFlagsWebProvider } from "@feature-flags/openfeature-provider";
import { OpenFeature, ProviderStatus } from "@openfeature/web-sdk";
import WebSocket from "ws";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { EVENT, recordEvents } from "../support/providerEvents";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy";
import { READ_TOKEN } from "../support/tokens";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const BrowserWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket ?? WebSocket;

describe("FeatureFlagsWebProvider under @openfeature/web-sdk (local runtime)", () => {
  let service: RunningService;
  let api: Client;
  let proxy: TcpProxy;
  let provider: FeatureFlagsWebProvider;
  const domain = "web-provider";

  before(async () => {
    ({ service, api } = await startTestService());
    await api("POST", "/flags", { body: { flagName: "banner", value: "spring" } });
    await api("POST", "/flags", { body: { flagName: "dark-mode", value: false } });
    proxy = await startTcpProxy(service.port);
    provider = new FeatureFlagsWebProvider({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      token: READ_TOKEN,
      graceMs: 5000,
      backoff: { initialMs: 100, maxMs: 400 },
      logger: quiet,
      WebSocket: BrowserWebSocket as never,
    });
  });
  after(async () => {
    await OpenFeature.close();
    await proxy.stop();
    await service.stop();
  });

  it("is READY once it holds the flags, and evaluates synchronously", async () => {
    await OpenFeature.setProviderAndWait(domain, provider);
    const client = OpenFeature.getClient(domain);

    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(client.getStringValue("banner", "none"), "spring");
    const details = client.getBooleanDetails("dark-mode", true);
    assert.deepEqual([details.value, details.reason], [false, "STATIC"]);
    const wrong = client.getNumberDetails("banner", 3);
    assert.deepEqual([wrong.value, wrong.errorCode], [3, "TYPE_MISMATCH"]);
  });

  it("sees a change made over REST in a CONFIGURATION_CHANGED naming the flag", async () => {
    const client = OpenFeature.getClient(domain);
    const events = recordEvents(client, [EVENT.changed]);

    await api("PUT", "/flags/dark-mode", { body: { value: true } });
    const changed = await events.next(EVENT.changed);

    assert.deepEqual(events.seen[changed].details?.flagsChanged, ["dark-mode"]);
    assert.equal(client.getBooleanValue("dark-mode", false), true);
  });

  it("goes STALE when the service goes away, keeps serving, and is READY again when it returns", async () => {
    const client = OpenFeature.getClient(domain);
    const events = recordEvents(client, [EVENT.stale, EVENT.ready]);
    const ready = await events.next(EVENT.ready);

    await proxy.cut();
    const stale = await events.next(EVENT.stale, ready + 1);
    assert.equal(client.getStringValue("banner", "none"), "spring");
    await proxy.restore();
    await events.next(EVENT.ready, stale + 1);

    assert.equal(client.providerStatus, ProviderStatus.READY);
  });

  it("says what to pass where the platform has no WebSocket", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    global.WebSocket = undefined;
    try {
      assert.throws(() => new FeatureFlagsWebProvider({ url: "ws://x/ws", token: "t" }), /no global WebSocket/);
    } finally {
      global.WebSocket = saved;
    }
  });
});
