import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";

describe("GET /flags/{flagName}/history and GET /settings on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  let reader: Client;
  let anonymous: Client;
  let deletionAllowed = true;

  before(async () => {
    let as: (token: string | undefined) => Client;
    ({ service, api, as } = await startTestService({ allowFlagDeletion: () => deletionAllowed }));
    reader = as(READ_TOKEN);
    anonymous = as(undefined);
  });
  after(() => service.stop());

  const history = (flagName: string, query = "", client = api) =>
    client("GET", `/flags/${encodeURIComponent(flagName)}/history${query}`);

  it("shows who changed a flag to what and when, newest first, and who deleted it", async () => {
    const created = await api("POST", "/flags", { body: { flagName: "checkout", value: false } });
    const updated = await api("PUT", "/flags/checkout", { body: { value: true }, headers: { "If-Match": '"1"' } });
    await api("DELETE", "/flags/checkout");

    const response = await history("checkout", "", reader);

    assert.equal(response.status, 200);
    assert.equal(response.body.nextCursor, undefined);
    const [deletion, v2, v1] = response.body.versions;
    assert.deepEqual(Object.keys(deletion).sort(), ["actor", "at", "flag", "version"]);
    assert.deepEqual([deletion.version, deletion.actor, deletion.flag], [2, "admin", null]);
    assert.ok(!Number.isNaN(Date.parse(deletion.at)));
    assert.deepEqual(v2, { version: 2, at: updated.body.updatedAt, actor: "admin", flag: updated.body });
    assert.deepEqual(v1, { version: 1, at: created.body.createdAt, actor: "admin", flag: created.body });
  });

  it("records a revert (PUT of an old version's definition with If-Match) as a new version", async () => {
    const rich = {
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: {
        fractional: [
          ["on", 10],
          ["off", 90],
        ],
      },
      description: "10 % rollout",
    };
    await api("POST", "/flags", { body: { flagName: "rollout", ...rich } });
    await api("PUT", "/flags/rollout", {
      body: {
        ...rich,
        targeting: {
          fractional: [
            ["on", 50],
            ["off", 50],
          ],
        },
      },
    });
    const old = (await history("rollout")).body.versions.at(-1).flag;
    const { variants, defaultVariant, targeting, description } = old;

    const reverted = await api("PUT", "/flags/rollout", {
      body: { variants, defaultVariant, targeting, description },
      headers: { "If-Match": '"2"' },
    });

    assert.equal(reverted.status, 200);
    const [newest] = (await history("rollout")).body.versions;
    assert.equal(newest.version, 3);
    assert.deepEqual(newest.flag.targeting, old.targeting);
    assert.deepEqual(newest.flag, reverted.body);
  });

  it("adds no entry for reads or OFREP evaluations", async () => {
    await api("POST", "/flags", { body: { flagName: "hot", value: 7 } });
    for (let i = 0; i < 3; i++) assert.equal((await reader("GET", "/flags/hot")).status, 200);
    const evaluation = await reader("POST", "/ofrep/v1/evaluate/flags/hot", { body: { context: {} } });
    assert.equal(evaluation.status, 200);
    // The evaluation stamps after answering, and a read no longer writes (so no longer waits for it).
    const deadline = Date.now() + 2_000;
    let stamped = false;
    while (!stamped && Date.now() < deadline)
      stamped = (await reader("GET", "/flags/hot")).body.lastEvaluated !== undefined;
    assert.ok(stamped, "OFREP stamped it");

    const { versions } = (await history("hot")).body;
    assert.equal(versions.length, 1);
    assert.equal(versions[0].flag.lastAccessed, undefined);
  });

  it("pages with limit and cursor like GET /flags", async () => {
    await api("POST", "/flags", { body: { flagName: "busy", value: 0 } });
    for (let i = 1; i <= 4; i++) await api("PUT", "/flags/busy", { body: { value: i } });
    const seen: number[] = [];
    let query = "?limit=2";
    for (;;) {
      const page = await history("busy", query);
      assert.equal(page.status, 200);
      assert.ok(page.body.versions.length <= 2);
      seen.push(...page.body.versions.map((v: { version: number }) => v.version));
      if (page.body.nextCursor === undefined) break;
      query = `?limit=2&cursor=${encodeURIComponent(page.body.nextCursor)}`;
    }
    assert.deepEqual(seen, [5, 4, 3, 2, 1]);
  });

  it("refuses a bad limit or cursor with 400 VALIDATION_FAILED", async () => {
    await api("POST", "/flags", { body: { flagName: "paging", value: 1 } });
    const forged = Buffer.from(JSON.stringify({ s: "1; drop" })).toString("base64url");
    for (const query of ["?limit=0", "?limit=101", "?limit=abc", "?cursor=not-ours", `?cursor=${forged}`]) {
      const response = await history("paging", query);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, "VALIDATION_FAILED", query);
    }
  });

  it("answers 404 FLAG_NOT_FOUND for a flag that never existed, 400 for an invalid name", async () => {
    const missing = await history("never-existed");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "FLAG_NOT_FOUND");
    assert.equal((await history("bad name!")).status, 400);
  });

  it("needs a token with the read scope", async () => {
    await api("POST", "/flags", { body: { flagName: "guarded", value: 1 } });
    assert.equal((await history("guarded", "", anonymous)).status, 401);
    assert.equal((await anonymous("GET", "/settings")).status, 401);
    assert.equal((await history("guarded", "", reader)).status, 200);
  });

  it("tells a read-only client whether deletion is allowed, as DELETE decides it", async () => {
    deletionAllowed = true;
    assert.deepEqual((await reader("GET", "/settings")).body, { allowFlagDeletion: true });
    deletionAllowed = false;
    const settings = await reader("GET", "/settings");
    assert.equal(settings.status, 200);
    assert.deepEqual(settings.body, { allowFlagDeletion: false });
    await api("POST", "/flags", { body: { flagName: "kept", value: 1 } });
    assert.equal((await api("DELETE", "/flags/kept")).body.error.code, "DELETION_DISABLED");
    assert.equal((await history("kept")).body.versions.length, 1, "a refused delete adds no entry");
    deletionAllowed = true;
  });
});
