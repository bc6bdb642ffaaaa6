import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";
import { connect, type TestClient } from "../support/wsClient";
import { auditLines } from "../support/auditFiles";

describe("the clientSide flag field (local runtime)", () => {
  let service: RunningService;
  let api: Client;
  let as: (token: string | undefined) => Client;
  let dataDir: string;
  let ws: TestClient | undefined;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-client-side-"));
    ({ service, api, as } = await startTestService({ auditDataDir: dataDir }));
  });
  after(async () => {
    await ws?.close();
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("defaults to false, is set on create, and is in every REST flag response", async () => {
    const plain = await api("POST", "/flags", { body: { flagName: "server-only", value: 1 } });
    assert.equal(plain.status, 201);
    assert.equal(plain.body.clientSide, false);
    const client = await api("POST", "/flags", {
      body: { flagName: "for-pages", variants: { on: true, off: false }, defaultVariant: "off", clientSide: true },
    });
    assert.equal(client.status, 201);
    assert.equal(client.body.clientSide, true);
    assert.equal((await api("GET", "/flags/for-pages")).body.clientSide, true);
    assert.equal((await api("GET", "/flags/server-only")).body.clientSide, false);
    const listed = (await api("GET", "/flags")).body.flags as Array<{ flagName: string; clientSide: boolean }>;
    assert.deepEqual(
      listed
        .filter((f) => f.flagName === "for-pages" || f.flagName === "server-only")
        .map((f) => [f.flagName, f.clientSide])
        .sort(),
      [
        ["for-pages", true],
        ["server-only", false],
      ],
    );
    // Read tokens see it too: it changes who else may evaluate, not what a server key sees.
    assert.equal((await as(READ_TOKEN)("GET", "/flags/for-pages")).body.clientSide, true);
  });

  it("refuses a clientSide that is not a boolean, on create and update, changing nothing", async () => {
    for (const clientSide of ["true", 1, null, {}]) {
      const created = await api("POST", "/flags", { body: { flagName: "bad-cs", value: 1, clientSide } });
      assert.equal(created.status, 400, JSON.stringify(clientSide));
      assert.equal(created.body.error.code, "VALIDATION_FAILED");
      assert.match(created.body.error.message, /clientSide/);
      const updated = await api("PUT", "/flags/server-only", { body: { value: 1, clientSide } });
      assert.equal(updated.status, 400);
      assert.equal(updated.body.error.code, "VALIDATION_FAILED");
    }
    assert.equal((await api("GET", "/flags/bad-cs")).status, 404);
    const stored = await api("GET", "/flags/server-only");
    assert.equal(stored.body.version, 1);
    assert.equal(stored.body.clientSide, false);
  });

  it("a change of only clientSide is a new version; a PUT without it keeps the stored setting", async () => {
    await api("POST", "/flags", { body: { flagName: "toggled", value: "a" } });
    const on = await api("PUT", "/flags/toggled", { body: { value: "a", clientSide: true } });
    assert.equal(on.status, 200);
    assert.equal(on.body.version, 2);
    assert.equal(on.body.clientSide, true);
    const kept = await api("PUT", "/flags/toggled", { body: { value: "b" } });
    assert.equal(kept.body.version, 3);
    assert.equal(kept.body.clientSide, true, "omitted: kept, as description is");
    const off = await api("PUT", "/flags/toggled", { body: { value: "b", clientSide: false } });
    assert.equal(off.body.version, 4);
    assert.equal(off.body.clientSide, false);
    assert.equal((await api("GET", "/flags/toggled")).body.clientSide, false);
  });

  it("history entries carry each version's clientSide", async () => {
    const history = await api("GET", "/flags/toggled/history");
    assert.equal(history.status, 200);
    const versions = history.body.versions as Array<{ version: number; flag: { clientSide: boolean } }>;
    assert.deepEqual(
      versions.map((entry) => [entry.version, entry.flag.clientSide]),
      [
        [4, false],
        [3, true],
        [2, true],
        [1, false],
      ],
    );
  });

  it("WebSocket snapshots and updates carry it", async () => {
    ws = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
    const snapshot = await ws.waitFor((m) => m.type === "snapshot");
    const inSnapshot = (name: string) =>
      (snapshot.flags as Array<{ flagName: string; clientSide: boolean }>).find((f) => f.flagName === name)?.clientSide;
    assert.equal(inSnapshot("for-pages"), true);
    assert.equal(inSnapshot("server-only"), false);

    await api("PUT", "/flags/server-only", { body: { value: 1, clientSide: true } });
    const updated = await ws.waitFor((m) => m.type === "flag.updated" && m.flag.flagName === "server-only");
    assert.equal(updated.flag.clientSide, true);
    assert.equal(updated.flag.version, 2);
    await api("POST", "/flags", { body: { flagName: "born-client-side", value: true, clientSide: true } });
    const created = await ws.waitFor((m) => m.type === "flag.created" && m.flag.flagName === "born-client-side");
    assert.equal(created.flag.clientSide, true);
  });

  it("audit lines' before and after carry it", async () => {
    const deadline = Date.now() + 10_000;
    const find = () =>
      auditLines(dataDir).find((line) => line.flagName === "server-only" && line.eventName === "updated");
    while (find() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const line = find();
    assert.ok(line, "the update's audit line was written");
    assert.equal(line.before?.clientSide, false);
    assert.equal(line.after?.clientSide, true);
  });
});
