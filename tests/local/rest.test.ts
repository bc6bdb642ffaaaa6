import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("REST API on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  let deletionAllowed = true;

  before(async () => {
    ({ service, api } = await startTestService({ allowFlagDeletion: () => deletionAllowed }));
  });
  after(() => service.stop());

  const create = (flagName: string, value: unknown = true, extra: object = {}) =>
    api("POST", "/flags", { body: { flagName, value, ...extra } });

  describe("GET /health", () => {
    it("returns 200 {status: ok}", async () => {
      const result = await api("GET", "/health");
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { status: "ok" });
    });
  });

  describe("POST /flags", () => {
    it("returns 201 with the flag and its Location", async () => {
      const result = await create("new-checkout", true, { description: "Checkout v2 for EU users" });
      assert.equal(result.status, 201);
      assert.equal(result.headers.get("location"), "/flags/new-checkout");
      const flag = result.body;
      assert.equal(flag.flagName, "new-checkout");
      assert.equal(flag.value, true);
      assert.equal(flag.description, "Checkout v2 for EU users");
      assert.equal(flag.version, 1);
      assert.match(flag.createdAt, ISO);
      assert.equal(flag.updatedAt, flag.createdAt);
      assert.equal(flag.createdBy, "admin");
      assert.equal(flag.updatedBy, "admin");
      assert.equal(flag.lastAccessed, undefined);
    });

    it("keeps every kind of JSON value exactly, including numbers DynamoDB cannot store", async () => {
      const value = { big: 1e308, tiny: 5e-324, precise: 0.1, list: [1, "two", false, { deep: [] }], empty: "" };
      assert.equal((await create("json-kinds", value)).status, 201);
      assert.deepEqual((await api("GET", "/flags/json-kinds")).body.value, value);
    });

    it("returns 409 FLAG_EXISTS for a name already taken, leaving the flag as it was", async () => {
      await create("taken", 1);
      const result = await create("taken", 2);
      assert.equal(result.status, 409);
      assert.equal(result.body.error.code, "FLAG_EXISTS");
      assert.equal((await api("GET", "/flags/taken")).body.value, 1);
    });

    it("returns 400 INVALID_JSON for a body that is not JSON", async () => {
      const result = await api("POST", "/flags", { body: "{flagName:" });
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "INVALID_JSON");
    });

    it("returns 400 VALIDATION_FAILED naming the field", async () => {
      const result = await create("bad name", 1);
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "VALIDATION_FAILED");
      assert.match(result.body.error.message, /flagName/);
    });

    it("returns 400 for a null value", async () => {
      const result = await create("null-value", null);
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "VALIDATION_FAILED");
    });

    it("returns 413 PAYLOAD_TOO_LARGE for a value over 32 KiB", async () => {
      const result = await create("huge", "x".repeat(33 * 1024));
      assert.equal(result.status, 413);
      assert.equal(result.body.error.code, "PAYLOAD_TOO_LARGE");
      assert.equal((await api("GET", "/flags/huge")).status, 404);
    });

    it("returns 413 for a body far beyond any valid request", async () => {
      const result = await api("POST", "/flags", { body: `{"flagName":"x","value":"${"y".repeat(1024 * 1024)}"}` });
      assert.equal(result.status, 413);
      assert.equal(result.body.error.code, "PAYLOAD_TOO_LARGE");
    });
  });

  describe("GET /flags/{flagName}", () => {
    it("returns the flag with lastAccessed set to now, version unchanged", async () => {
      await create("read-me", "v");
      const before = Date.now();
      const result = await api("GET", "/flags/read-me");
      assert.equal(result.status, 200);
      assert.equal(result.body.version, 1);
      assert.equal(result.headers.get("etag"), '"1"');
      assert.ok(Date.parse(result.body.lastAccessed) >= before - 5);
    });

    it("returns 404 FLAG_NOT_FOUND with the contract's error body", async () => {
      const result = await api("GET", "/flags/missing");
      assert.equal(result.status, 404);
      assert.deepEqual(result.body, { error: { code: "FLAG_NOT_FOUND", message: "flag 'missing' does not exist" } });
    });

    it("decodes percent-encoded names and refuses malformed encoding with 400", async () => {
      await create("enc.oded", 1);
      assert.equal((await api("GET", "/flags/enc%2Eoded")).status, 200);
      const malformed = await api("GET", "/flags/%E0%A4%A");
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, "VALIDATION_FAILED");
    });

    it("refuses unicode names with 400, not 500", async () => {
      const result = await api("GET", `/flags/${encodeURIComponent("ünïcödé")}`);
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "VALIDATION_FAILED");
    });
  });

  describe("GET /flags", () => {
    before(async () => {
      for (let i = 0; i < 7; i++) await create(`page-${i}`, i);
    });

    it("pages through every flag exactly once, nextCursor absent on the last page", async () => {
      const all = (await api("GET", "/flags")).body.flags.map((f: { flagName: string }) => f.flagName);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = cursor === undefined ? "?limit=3" : `?limit=3&cursor=${cursor}`;
        const result = await api("GET", `/flags${query}`);
        assert.equal(result.status, 200);
        assert.ok(result.body.flags.length <= 3);
        seen.push(...result.body.flags.map((f: { flagName: string }) => f.flagName));
        cursor = result.body.nextCursor;
        pages += 1;
      } while (cursor !== undefined);
      assert.deepEqual(seen, all);
      assert.equal(pages, Math.ceil(all.length / 3));
    });

    it("omits nextCursor when the page holds exactly the last items", async () => {
      const total = (await api("GET", "/flags")).body.flags.length;
      const result = await api("GET", `/flags?limit=${total}`);
      assert.equal(result.body.flags.length, total);
      assert.equal("nextCursor" in result.body, false);
    });

    it("returns 400 for a limit outside 1..100 or a cursor it did not issue", async () => {
      for (const query of ["limit=0", "limit=101", "limit=x", "cursor=garbage"]) {
        const result = await api("GET", `/flags?${query}`);
        assert.equal(result.status, 400, query);
        assert.equal(result.body.error.code, "VALIDATION_FAILED", query);
      }
    });
  });

  describe("PUT /flags/{flagName}", () => {
    it("replaces the value, bumps the version and keeps the description when omitted", async () => {
      await create("put-me", 1, { description: "kept" });
      const result = await api("PUT", "/flags/put-me", { body: { value: 2 } });
      assert.equal(result.status, 200);
      assert.equal(result.body.value, 2);
      assert.equal(result.body.version, 2);
      assert.equal(result.body.description, "kept");
      assert.ok(result.body.updatedAt >= result.body.createdAt);
    });

    it("applies when If-Match names the current version (bare or as an ETag)", async () => {
      await create("match-me", 1);
      assert.equal(
        (await api("PUT", "/flags/match-me", { body: { value: 2 }, headers: { "If-Match": "1" } })).status,
        200,
      );
      assert.equal(
        (await api("PUT", "/flags/match-me", { body: { value: 3 }, headers: { "If-Match": '"2"' } })).status,
        200,
      );
    });

    it("returns 412 VERSION_CONFLICT when If-Match names an older version, changing nothing", async () => {
      await create("stale", "a");
      await api("PUT", "/flags/stale", { body: { value: "b" } });
      const result = await api("PUT", "/flags/stale", { body: { value: "c" }, headers: { "If-Match": "1" } });
      assert.equal(result.status, 412);
      assert.equal(result.body.error.code, "VERSION_CONFLICT");
      const flag = (await api("GET", "/flags/stale")).body;
      assert.equal(flag.value, "b");
      assert.equal(flag.version, 2);
    });

    it("returns 400 NAME_MISMATCH when the body names another flag", async () => {
      await create("mine", 1);
      const result = await api("PUT", "/flags/mine", { body: { flagName: "theirs", value: 2 } });
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "NAME_MISMATCH");
    });

    it("accepts a body that is a flag it returned, with the service's fields", async () => {
      const flag = (await create("round-trip", 1)).body;
      const result = await api("PUT", "/flags/round-trip", { body: { ...flag, value: 2 } });
      assert.equal(result.status, 200);
      assert.equal(result.body.version, 2);
    });

    it("returns 404 for a flag that does not exist, and creates nothing", async () => {
      const result = await api("PUT", "/flags/ghost", { body: { value: 1 } });
      assert.equal(result.status, 404);
      assert.equal(result.body.error.code, "FLAG_NOT_FOUND");
      assert.equal((await api("GET", "/flags/ghost")).status, 404);
    });

    it("returns 400 for a bad If-Match or a missing value", async () => {
      await create("strict", 1);
      const badHeader = await api("PUT", "/flags/strict", { body: { value: 2 }, headers: { "If-Match": "soon" } });
      assert.equal(badHeader.status, 400);
      const noValue = await api("PUT", "/flags/strict", { body: { description: "x" } });
      assert.equal(noValue.status, 400);
      assert.equal((await api("GET", "/flags/strict")).body.version, 1);
    });
  });

  describe("DELETE /flags/{flagName}", () => {
    it("returns 204 and the flag is gone", async () => {
      await create("doomed", 1);
      const result = await api("DELETE", "/flags/doomed");
      assert.equal(result.status, 204);
      assert.equal(result.body, undefined);
      assert.equal((await api("GET", "/flags/doomed")).status, 404);
    });

    it("returns 404 for a flag that does not exist", async () => {
      const result = await api("DELETE", "/flags/never-was");
      assert.equal(result.status, 404);
      assert.equal(result.body.error.code, "FLAG_NOT_FOUND");
    });

    it("returns 403 DELETION_DISABLED when deletion is off, and keeps the flag", async () => {
      await create("protected", 1);
      deletionAllowed = false;
      try {
        const result = await api("DELETE", "/flags/protected");
        assert.equal(result.status, 403);
        assert.equal(result.body.error.code, "DELETION_DISABLED");
      } finally {
        deletionAllowed = true;
      }
      assert.equal((await api("GET", "/flags/protected")).body.value, 1);
    });
  });

  describe("unknown routes", () => {
    it("returns 404 ROUTE_NOT_FOUND for an unknown path or method", async () => {
      for (const [method, path] of [
        ["GET", "/nothing"],
        ["PATCH", "/flags/x"],
        ["DELETE", "/flags"],
        ["GET", "/flags/a/b"],
      ]) {
        const result = await api(method, path);
        assert.equal(result.status, 404, `${method} ${path}`);
        assert.equal(result.body.error.code, "ROUTE_NOT_FOUND");
      }
    });
  });
});
