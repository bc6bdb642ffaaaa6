/**
 * The event chains of flagd's provider test bed (shared/testkits/flagd-provider-events/
 * events.feature) and the rest of the provider's connection behaviour, against the local runtime,
 * losing the connection for real: a TCP proxy in front of the service is cut and restored.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FeatureFlagsProvider } from "@feature-flags/openfeature-provider";
import { OpenFeature, ProviderStatus } from "@openfeature/server-sdk";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { EVENT, delay, recordEvents } from "../support/providerEvents";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy";
import { CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

describe("FeatureFlagsProvider (server) against the local runtime, connection lost for real", () => {
  let service: RunningService;
  let api: Client;
  let proxy: TcpProxy;
  let domains = 0;
  const providers: FeatureFlagsProvider[] = [];

  before(async () => {
    ({ service, api } = await startTestService());
    await api("POST", "/flags", { body: { flagName: "changing-flag", value: "foo" } });
    await api("POST", "/flags", { body: { flagName: "kept", value: 1 } });
  });
  beforeEach(async () => {
    proxy = await startTcpProxy(service.port);
  });
  afterEach(async () => {
    await proxy.stop();
  });
  after(async () => {
    await OpenFeature.close();
    await Promise.all(providers.map((p) => p.onClose()));
    await service.stop();
  });

  /** A provider through the proxy, registered in its own domain; fast backoff for tests. */
  const connect = async (options: Partial<ConstructorParameters<typeof FeatureFlagsProvider>[0]> = {}) => {
    const provider = new FeatureFlagsProvider({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      token: READ_TOKEN,
      backoff: { initialMs: 100, maxMs: 400 },
      logger: quiet,
      ...options,
    });
    providers.push(provider);
    const domain = `events-${++domains}`;
    const client = OpenFeature.getClient(domain);
    const events = recordEvents(client);
    await OpenFeature.setProviderAndWait(domain, provider);
    return { provider, client, events };
  };

  it("ready → stale → ready: a 1 s loss within the grace period", async () => {
    const { client, events } = await connect({ graceMs: 5000 });
    const ready = await events.next(EVENT.ready);

    await proxy.cut();
    const stale = await events.next(EVENT.stale, ready + 1);
    assert.equal(client.providerStatus, ProviderStatus.STALE);
    await delay(1000);
    await proxy.restore();
    const readyAgain = await events.next(EVENT.ready, stale + 1);

    assert.deepEqual(events.types().slice(ready, readyAgain + 1), [EVENT.ready, EVENT.stale, EVENT.ready]);
    assert.equal(client.providerStatus, ProviderStatus.READY);
  });

  it("ready → stale → error → ready: a 3 s loss outlasts a 1 s grace period; last-known flags still served", async () => {
    const { client, events } = await connect({ graceMs: 1000 });
    const ready = await events.next(EVENT.ready);

    await proxy.cut();
    const lostAt = Date.now();
    const stale = await events.next(EVENT.stale, ready + 1);
    const error = await events.next(EVENT.error, stale + 1);
    assert.equal(client.providerStatus, ProviderStatus.ERROR);
    const served = await client.getStringDetails("changing-flag", "default");
    await delay(3000 - (Date.now() - lostAt));
    await proxy.restore();
    const readyAgain = await events.next(EVENT.ready, error + 1);

    assert.deepEqual(events.types().slice(ready, readyAgain + 1), [EVENT.ready, EVENT.stale, EVENT.error, EVENT.ready]);
    assert.notEqual(events.seen[error].details?.errorCode, "PROVIDER_FATAL");
    assert.deepEqual([served.value, served.reason, served.errorCode], ["foo", "STATIC", undefined]);
  });

  it("ready → error → ready: the chain seen by a client with no stale handler", async () => {
    const provider = new FeatureFlagsProvider({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      token: READ_TOKEN,
      graceMs: 500,
      backoff: { initialMs: 100, maxMs: 400 },
      logger: quiet,
    });
    providers.push(provider);
    const domain = `events-${++domains}`;
    const events = recordEvents(OpenFeature.getClient(domain), [EVENT.ready, EVENT.error]);
    await OpenFeature.setProviderAndWait(domain, provider);
    const ready = await events.next(EVENT.ready);

    await proxy.cut();
    const error = await events.next(EVENT.error, ready + 1);
    await delay(3000);
    await proxy.restore();
    await events.next(EVENT.ready, error + 1);

    assert.deepEqual(events.types(), [EVENT.ready, EVENT.error, EVENT.ready]);
  });

  it("a change event names the flag that was modified, and evaluation sees the new value", async () => {
    const { client, events } = await connect();
    assert.equal(await client.getStringValue("changing-flag", "false"), "foo");

    const result = await api("PUT", "/flags/changing-flag", { body: { value: "bar" } });
    assert.equal(result.status, 200);
    const changed = await events.next(EVENT.changed);

    assert.deepEqual(events.seen[changed].details?.flagsChanged, ["changing-flag"]);
    assert.equal(await client.getStringValue("changing-flag", "false"), "bar");
  });

  it("after reconnecting: READY, then one CONFIGURATION_CHANGED naming exactly what changed while away", async () => {
    await api("POST", "/flags", { body: { flagName: "to-update", value: true } });
    await api("POST", "/flags", { body: { flagName: "to-delete", value: true } });
    const { client, events } = await connect({ graceMs: 5000 });
    const ready = await events.next(EVENT.ready);

    await proxy.cut();
    const stale = await events.next(EVENT.stale, ready + 1);
    await api("PUT", "/flags/to-update", { body: { value: false } });
    await api("PUT", "/flags/to-update", { body: { value: false, description: "only the description" } });
    await api("DELETE", "/flags/to-delete");
    await api("POST", "/flags", { body: { flagName: "created-while-away", value: "new" } });
    await proxy.restore();
    const readyAgain = await events.next(EVENT.ready, stale + 1);
    const changed = await events.next(EVENT.changed, readyAgain + 1);

    assert.deepEqual(events.seen[changed].details?.flagsChanged?.sort(), [
      "created-while-away",
      "to-delete",
      "to-update",
    ]);
    assert.equal(events.types().filter((t, i) => i > stale && t === EVENT.changed).length, 1);
    assert.equal(await client.getBooleanValue("to-update", true), false);
    const deleted = await client.getBooleanDetails("to-delete", true);
    assert.deepEqual([deleted.value, deleted.errorCode], [true, "FLAG_NOT_FOUND"]);
  });

  it("a refused token is FATAL at once, with no retries", async () => {
    const provider = new FeatureFlagsProvider({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      token: "not-a-token-0123456789abcdef",
      backoff: { initialMs: 10, maxMs: 20 },
      logger: quiet,
    });
    providers.push(provider);
    const domain = `events-${++domains}`;

    await assert.rejects(OpenFeature.setProviderAndWait(domain, provider), /refused the token/);
    assert.equal(OpenFeature.getClient(domain).providerStatus, ProviderStatus.FATAL);
    // With 10–20 ms backoff a retrying provider would have connected many times by now.
    await delay(300);
    assert.equal(proxy.connections(), 1);
  });

  it("a client key is FATAL at once (the WebSocket refuses it, 403), saying to use OFREP instead", async () => {
    const provider = new FeatureFlagsProvider({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      token: CLIENT_TOKEN,
      backoff: { initialMs: 10, maxMs: 20 },
      logger: quiet,
    });
    providers.push(provider);
    const domain = `events-${++domains}`;

    await assert.rejects(
      OpenFeature.setProviderAndWait(domain, provider),
      /HTTP 403.*client key .*cannot use the WebSocket.*@openfeature\/ofrep-web-provider/,
    );
    assert.equal(OpenFeature.getClient(domain).providerStatus, ProviderStatus.FATAL);
    await delay(300);
    assert.equal(proxy.connections(), 1);
  });

  it("replaces its connection before it gets old without ever going STALE", async () => {
    const { client, events } = await connect({ maxConnectionAgeMs: 400 });
    const before = proxy.connections();

    while (proxy.connections() < before + 3) await delay(50);
    await api("PUT", "/flags/kept", { body: { value: 2 } });
    await events.next(EVENT.changed);

    assert.deepEqual(
      events.types().filter((t) => t !== EVENT.changed),
      [EVENT.ready],
    );
    assert.equal(await client.getNumberValue("kept", 0), 2);
  });

  it("detects a connection that stops answering (no pong) and reconnects", async () => {
    const { events } = await connect({ keepaliveMs: 200, pongTimeoutMs: 300, graceMs: 5000 });
    const ready = await events.next(EVENT.ready);

    proxy.freeze();
    const stale = await events.next(EVENT.stale, ready + 1);
    proxy.thaw();
    await events.next(EVENT.ready, stale + 1);
  });

  it("starts from its cache file when the service is unreachable, then STALE", async () => {
    const cacheFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ff-cache-")), "flags.json");
    const first = await connect({ cacheFile });
    while (!fs.existsSync(cacheFile)) await delay(20);
    await first.provider.onClose();
    await proxy.cut();

    const { client, events } = await connect({ cacheFile, graceMs: 5000 });

    assert.equal(await client.getNumberValue("kept", 0), (await api("GET", "/flags/kept")).body.value);
    await events.next(EVENT.stale);
    assert.equal(client.providerStatus, ProviderStatus.STALE);
    await proxy.restore();
    await events.next(EVENT.ready, 1);
  });
});
