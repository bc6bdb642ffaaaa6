import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import { BOUNDS } from "../../packages/openfeature-provider/src/evaluation/limits";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";
import { connect, type TestClient } from "../support/wsClient";

const TOTAL = BOUNDS.evaluatorsTotalBytes;
const OVERHEAD = JSON.stringify({ in: [{ var: "email" }, [""]] }).length;
/** An expression whose JSON is exactly `bytes` long: a list of one long address. */
const sized = (bytes: number, fill = "x") => ({ in: [{ var: "email" }, [fill.repeat(bytes - OVERHEAD)]] });
/** What a new evaluator adds to the JSON of a non-empty set: `"name":` + expression + a comma. */
const entryBytes = (name: string, bytes: number) => JSON.stringify(name).length + 1 + bytes + 1;

describe("the evaluators' size bounds on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  const clients: TestClient[] = [];

  /** Every evaluator as clients receive them, and the bytes of that JSON. */
  const shared = async () => {
    const list = (await api("GET", "/evaluators")).body.evaluators as Array<{ name: string; expression: unknown }>;
    const evaluators = Object.fromEntries(list.map((e) => [e.name, e.expression]));
    return { evaluators, bytes: Buffer.byteLength(JSON.stringify(evaluators)), list };
  };

  before(async () => {
    ({ service, api } = await startTestService());
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await service.stop();
  });

  it("refuses one expression over evaluatorBytes with 400 naming the bound, and stores nothing", async () => {
    const over = await api("PUT", "/evaluators/too-big", { body: { expression: sized(BOUNDS.evaluatorBytes + 1) } });

    assert.equal(over.status, 400);
    assert.equal(over.body.error.code, "VALIDATION_FAILED");
    assert.match(over.body.error.message, /evaluatorBytes/);
    assert.equal((await api("GET", "/evaluators/too-big")).status, 404);
    assert.equal((await api("GET", "/evaluators/too-big/history")).status, 404);
  });

  it("accepts evaluators up to evaluatorsTotalBytes together, exactly", async () => {
    for (const name of ["big-1", "big-2", "big-3"]) {
      assert.equal((await api("PUT", `/evaluators/${name}`, { body: { expression: sized(30_000) } })).status, 201);
    }
    const { bytes } = await shared();
    const last = "filler";
    const rest = TOTAL - bytes - entryBytes(last, 0);

    const filled = await api("PUT", `/evaluators/${last}`, { body: { expression: sized(rest) } });

    assert.equal(filled.status, 201, JSON.stringify(filled.body));
    assert.equal((await shared()).bytes, TOTAL);
  });

  it("refuses a new evaluator that would pass evaluatorsTotalBytes with 400 naming the bound, and changes nothing", async () => {
    const before = await shared();

    const refused = await api("PUT", "/evaluators/one-more", { body: { expression: { "==": [1, 1] } } });

    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "VALIDATION_FAILED");
    assert.match(refused.body.error.message, /evaluatorsTotalBytes \(98304\)/);
    assert.deepEqual(await shared(), before);
    assert.equal((await api("GET", "/evaluators/one-more/history")).status, 404);
  });

  it("refuses a replace that grows the set past the bound, and accepts one that shrinks it", async () => {
    const before = await shared();
    const grown = await api("PUT", "/evaluators/big-1", { body: { expression: sized(30_001) } });
    assert.equal(grown.status, 400);
    assert.match(grown.body.error.message, /evaluatorsTotalBytes/);
    assert.deepEqual(await shared(), before);
    assert.equal((await api("GET", "/evaluators/big-1/history")).body.versions.length, 1);

    const shrunk = await api("PUT", "/evaluators/big-1", { body: { expression: sized(29_999) } });
    assert.equal(shrunk.status, 200);
    assert.equal((await shared()).bytes, TOTAL - 1);
    const regrown = await api("PUT", "/evaluators/big-1", { body: { expression: sized(30_000, "y") } });
    assert.equal(regrown.status, 200);
    assert.equal((await shared()).bytes, TOTAL);
  });

  it("with the most evaluators accepted, still greets a new WebSocket client with its snapshot (evaluators in part 1) and sends evaluators.updated", async () => {
    // Flags enough to need a second part beside the evaluators.
    for (let i = 0; i < 30; i++) {
      await api("POST", "/flags", { body: { flagName: `padded-${i}`, value: "v".repeat(2000) } });
    }
    const { evaluators } = await shared();
    assert.equal(Buffer.byteLength(JSON.stringify(evaluators)), TOTAL);

    const client = await connect(`${service.websocketUrl}?token=${READ_TOKEN}`);
    clients.push(client);
    const first = await client.waitFor((m) => m.type === "snapshot" && m.part === 1);
    assert.ok(first.parts >= 2, `${first.parts} part(s)`);
    for (let part = 2; part <= first.parts; part++)
      await client.waitFor((m) => m.type === "snapshot" && m.part === part);
    assert.deepEqual(first.evaluators, evaluators);
    const parts = client.messages.filter((m) => m.type === "snapshot");
    assert.equal(parts.flatMap((m) => m.flags).filter((f) => f.flagName.startsWith("padded-")).length, 30);

    await api("PUT", "/evaluators/big-2", { body: { expression: sized(30_000, "z") } });

    const updated = await client.waitFor((m) => m.type === "evaluators.updated");
    assert.deepEqual(updated.evaluators, (await shared()).evaluators);
    assert.equal(Buffer.byteLength(JSON.stringify(updated.evaluators)), TOTAL);
  });

  it("lets only one of two concurrent writes through when both together would pass the bound", async () => {
    // Room for one 20,000-byte evaluator, not for two.
    assert.equal((await api("DELETE", "/evaluators/big-3")).status, 204);
    const room = TOTAL - (await shared()).bytes;
    assert.ok(entryBytes("racer-a", 20_000) <= room && 2 * entryBytes("racer-a", 20_000) > room);

    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        ["racer-a", "racer-b"].map((name) =>
          api("PUT", `/evaluators/${name}`, { body: { expression: sized(20_000) } }),
        ),
      );

      assert.deepEqual(
        results.map((r) => r.status).sort(),
        [201, 400],
        `round ${round}: ${JSON.stringify(results.map((r) => r.body))}`,
      );
      const { bytes, list } = await shared();
      assert.ok(bytes <= TOTAL, `${bytes} bytes stored`);
      const winner = list.find((e) => e.name.startsWith("racer-"));
      assert.ok(winner);
      assert.equal((await api("DELETE", `/evaluators/${winner.name}`)).status, 204);
    }
  });
});
