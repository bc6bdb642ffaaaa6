import { strict as assert } from "node:assert";
import { FLAG_SET_CHECK_MS } from "../../handlers/ofrep/flagSet";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { makeOfrepValidator, ofrepClient } from "../support/ofrep";
import { READ_TOKEN } from "../support/tokens";

/** Polls until `check` passes or `ms` pass; returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`not within ${ms} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Date.now() - started;
}

describe("OFREP on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  const validator = makeOfrepValidator();
  let ofrep: ReturnType<typeof ofrepClient>;

  before(async () => {
    ({ service, api } = await startTestService());
    ofrep = ofrepClient(service.url, READ_TOKEN, validator);
    const flags = [
      { flagName: "plain", value: { color: "blue" } },
      { flagName: "plain-list", value: [1, 2] },
      {
        flagName: "eu-checkout",
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: { if: [{ in: [{ var: "country" }, ["DE", "FR"]] }, "on", "off"] },
        metadata: { team: "payments" },
      },
      {
        flagName: "rollout-10",
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: {
          fractional: [
            ["on", 10],
            ["off", 90],
          ],
        },
      },
      { flagName: "switched-off", state: "DISABLED", variants: { a: "x", b: "y" }, defaultVariant: "a" },
      {
        flagName: "no-default",
        variants: { special: "CEO", normal: "CFO" },
        targeting: { if: [{ "==": [{ var: "email" }, "jobs@orange.com"] }, "special", null] },
      },
    ];
    for (const body of flags) assert.equal((await api("POST", "/flags", { body })).status, 201, body.flagName);
  });
  after(() => service?.stop());

  describe("POST /ofrep/v1/evaluate/flags/{key}", () => {
    it("evaluates a plain value flag to its value with reason STATIC", async () => {
      const result = await ofrep.single("plain", { targetingKey: "u1" });
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { key: "plain", value: { color: "blue" }, reason: "STATIC", variant: "default" });
    });

    it("evaluates targeting on a context attribute, with the flag's metadata", async () => {
      const de = await ofrep.single("eu-checkout", { targetingKey: "u1", country: "DE" });
      assert.deepEqual(de.body, {
        key: "eu-checkout",
        value: true,
        reason: "TARGETING_MATCH",
        variant: "on",
        metadata: { team: "payments" },
      });
      const us = await ofrep.single("eu-checkout", { targetingKey: "u1", country: "US" });
      assert.equal(us.body.value, false);
    });

    it("needs no targetingKey for a flag that does not use one", async () => {
      const result = await ofrep.single("eu-checkout", { country: "FR" });
      assert.equal(result.status, 200);
      assert.equal(result.body.value, true);
    });

    it("rolls out to about 10 % of users, each one stably", async () => {
      let on = 0;
      for (let i = 0; i < 300; i++) {
        const result = await ofrep.single("rollout-10", { targetingKey: `user-${i}` });
        if (result.body.value === true) on++;
      }
      assert.ok(on > 10 && on < 60, `${on} of 300 got the rollout`);
      const first = await ofrep.single("rollout-10", { targetingKey: "user-7" });
      for (let i = 0; i < 5; i++) {
        assert.equal((await ofrep.single("rollout-10", { targetingKey: "user-7" })).body.value, first.body.value);
      }
    });

    it("answers a disabled flag 200 with reason DISABLED and no value or variant", async () => {
      const result = await ofrep.single("switched-off", { targetingKey: "u1" });
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { key: "switched-off", reason: "DISABLED" });
    });

    it("answers a flag with no default variant and no match with no value (the code default)", async () => {
      const miss = await ofrep.single("no-default", { email: "wozniak@orange.com" });
      assert.deepEqual(miss.body, { key: "no-default", reason: "DEFAULT" });
      const hit = await ofrep.single("no-default", { email: "jobs@orange.com" });
      assert.equal(hit.body.value, "CEO");
    });

    it("answers 404 FLAG_NOT_FOUND for a flag that does not exist", async () => {
      const result = await ofrep.single("nope", {});
      assert.equal(result.status, 404);
      assert.deepEqual(result.body, {
        key: "nope",
        errorCode: "FLAG_NOT_FOUND",
        errorDetails: "flag 'nope' was not found",
      });
    });

    it("answers 400 GENERAL for a plain flag whose value is an array, which OFREP cannot carry", async () => {
      const result = await ofrep.single("plain-list", {});
      assert.equal(result.status, 400);
      assert.equal(result.body.errorCode, "GENERAL");
    });

    it("answers 400 INVALID_CONTEXT in OFREP's body for a body that is not {context: {...}}", async () => {
      for (const body of ["{not json", "[]", "{}", '{"context": 3}', '{"context": {"targetingKey": 5}}']) {
        const result = await ofrep.raw("/ofrep/v1/evaluate/flags/plain", body);
        assert.equal(result.status, 400, body);
        assert.equal(result.body.key, "plain");
        assert.equal(result.body.errorCode, "INVALID_CONTEXT");
        assert.equal(result.body.error, undefined, "not this API's error body");
      }
    });

    it("needs a token: 401 without one, and the read scope suffices", async () => {
      const anonymous = ofrepClient(service.url, undefined, validator);
      assert.equal((await anonymous.single("plain")).status, 401);
      assert.equal((await ofrep.single("plain")).status, 200);
    });

    it("stamps lastEvaluated on the flag, without changing its version", async () => {
      const before = (await api("GET", "/flags/plain")).body;
      await ofrep.single("plain", {});
      let after = (await api("GET", "/flags/plain")).body;
      // The stamp is written after the answer, so poll for it.
      await within(2000, async () => {
        after = (await api("GET", "/flags/plain")).body;
        return after.lastEvaluated !== undefined;
      });
      assert.ok(Date.now() - Date.parse(after.lastEvaluated) < 120_000, after.lastEvaluated);
      assert.equal(after.version, before.version);
    });
  });

  describe("POST /ofrep/v1/evaluate/flags (bulk)", () => {
    it("evaluates every flag, failures per flag, with an ETag", async () => {
      const result = await ofrep.bulk({ targetingKey: "u1", country: "DE" });
      assert.equal(result.status, 200);
      const keys = result.body.flags.map((f: { key: string }) => f.key);
      assert.deepEqual(keys, ["eu-checkout", "no-default", "plain", "plain-list", "rollout-10", "switched-off"]);
      assert.equal(result.body.flags.find((f: { key: string }) => f.key === "plain-list").errorCode, "GENERAL");
      assert.match(result.headers.get("etag") ?? "", /^"[A-Za-z0-9_-]+"$/);
    });

    it("answers 304 with no body for a matching If-None-Match, 200 once a flag changed", async () => {
      const context = { targetingKey: "u2", country: "FR" };
      const first = await ofrep.bulk(context);
      const etag = first.headers.get("etag") as string;
      const again = await ofrep.bulk(context, { "If-None-Match": etag });
      assert.equal(again.status, 304);
      assert.equal(again.body, undefined);
      assert.equal(again.headers.get("etag"), etag);
      assert.equal((await ofrep.bulk({ ...context, country: "US" }, { "If-None-Match": etag })).status, 200);

      assert.equal((await api("PUT", "/flags/plain", { body: { value: { color: "red" } } })).status, 200);
      await within(1000, async () => (await ofrep.bulk(context, { "If-None-Match": etag })).status === 200);
    });

    it("answers 400 INVALID_CONTEXT without a key for a bad body", async () => {
      const result = await ofrep.raw("/ofrep/v1/evaluate/flags", '{"ctx": {}}');
      assert.equal(result.status, 400);
      assert.equal(result.body.errorCode, "INVALID_CONTEXT");
    });
  });

  describe("freshness", () => {
    it(`shows a change made through the REST API within the ${FLAG_SET_CHECK_MS} ms check interval and well under 1 s`, async () => {
      assert.equal((await ofrep.single("eu-checkout", { country: "US" })).body.value, false);
      await api("PUT", "/flags/eu-checkout", {
        body: { variants: { on: true, off: false }, defaultVariant: "on" },
      });
      await within(1000, async () => (await ofrep.single("eu-checkout", { country: "US" })).body.value === true);
      await api("DELETE", "/flags/eu-checkout");
      await within(1000, async () => (await ofrep.single("eu-checkout", {})).status === 404);
      await api("POST", "/flags", { body: { flagName: "brand-new", value: "hello" } });
      await within(1000, async () => (await ofrep.single("brand-new", {})).body?.value === "hello");
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites.
  describe("afterwards", () => {
    it("validated every OFREP response against the OpenAPI document", () => {
      assert.ok(validator.count() > 300, `${validator.count()} validated`);
    });
  });
});
