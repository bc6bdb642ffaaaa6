import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { waitFor } from "../support/processes";
import { READ_TOKEN } from "../support/tokens";
import { connect, type TestClient } from "../support/wsClient";

/** A client that stops reading: its socket is paused, so nothing it is sent is consumed. */
const stall = (client: TestClient) => (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();

const closeCode = (client: TestClient) =>
  new Promise<number>((resolve) => client.ws.once("close", (code: number) => resolve(code)));

/** The timing of these targets is measured by `npm run bench` ("slow clients"); this proves the behaviour. */
describe("slow and greedy WebSocket clients cannot hurt the others (local runtime)", () => {
  describe("a capped queue per connection and a rate limit on messages", () => {
    let service: RunningService;
    let api: Client;
    const clients: TestClient[] = [];
    const open = async () => {
      const client = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
      clients.push(client);
      await client.waitFor((m) => m.type === "snapshot");
      return client;
    };

    before(async () => {
      ({ service, api } = await startTestService({
        websocketLimits: { maxBufferedBytes: 512 * 1024, pingIntervalMs: 60_000 },
      }));
    });
    after(async () => {
      for (const client of clients) client.ws.terminate();
      await service.stop();
    });

    it("closes readers that stop reading once their queue passes the cap, while a healthy client gets every flag's newest version", async () => {
      const flags = ["big-0", "big-1", "big-2"];
      for (const flagName of flags) await api("POST", "/flags", { body: { flagName, value: "x" } });
      const healthy = await open();
      const stalled = await Promise.all([open(), open(), open()]);
      stalled.forEach(stall);

      // 30 KB updates until every stalled reader is cut off (kernel buffers absorb a few MB first).
      const latest = new Map<string, number>();
      for (let i = 0; service.websocketMetrics().closedTooSlow < 3; i++) {
        assert.ok(
          i < 2000,
          `stalled readers still open after ${i} updates: ${JSON.stringify(service.websocketMetrics())}`,
        );
        const flagName = flags[i % flags.length];
        const result = await api("PUT", `/flags/${flagName}`, { body: { value: `${i}:${"v".repeat(30_000)}` } });
        latest.set(flagName, result.body.version);
      }

      for (const [flagName, version] of latest) {
        await healthy.waitFor(
          (m) => m.type === "flag.updated" && m.flag.flagName === flagName && m.flag.version === version,
        );
      }
      assert.equal(healthy.ws.readyState, healthy.ws.OPEN);
      assert.equal(service.websocketMetrics().closedTooSlow, 3);
    });

    it("closes a client that floods sync requests with 1008, and answers it with few snapshots, not thousands", async () => {
      const healthy = await open();
      const flooder = await open();
      const closed = closeCode(flooder);
      const before = flooder.messages.length;

      for (let i = 0; i < 2000 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.ws.send('{"action":"sync"}');

      assert.equal(await closed, 1008);
      assert.ok(flooder.messages.length - before <= 25, `${flooder.messages.length - before} snapshots were sent`);
      assert.equal(service.websocketMetrics().closedRateLimited, 1);
      await api("POST", "/flags", { body: { flagName: "after-flood", value: "after the flood" } });
      await healthy.waitFor((m) => m.type === "flag.created" && m.flag.value === "after the flood");
    });
  });

  describe("liveness", () => {
    let service: RunningService;

    before(async () => {
      ({ service } = await startTestService({ websocketLimits: { pingIntervalMs: 200 } }));
    });
    after(() => service.stop());

    it("closes a client that stops answering pings and keeps the ones that answer", async () => {
      const url = `${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`;
      const [healthy, silent] = await Promise.all([connect(url), connect(url)]);
      await silent.waitFor((m) => m.type === "snapshot");
      stall(silent);

      assert.ok(await waitFor(() => service.websocketMetrics().closedUnresponsive === 1, 10_000));
      assert.equal(healthy.ws.readyState, healthy.ws.OPEN);
      silent.ws.terminate();
      await healthy.close();
    });
  });
});
