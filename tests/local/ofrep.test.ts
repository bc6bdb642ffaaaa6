import { strict as assert } from "node:assert";
import { FLAG_SET_CHECK_MS } from "../../handlers/ofrep/flagSet";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { setClientSide } from "../support/clientSide";
import { makeOfrepValidator, ofrepClient } from "../support/ofrep";
import { CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

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

  describe("a client key (evaluate scope)", () => {
    let client: ReturnType<typeof ofrepClient>;
    const rule = { if: [{ in: [{ var: "email" }, ["ceo@example.com", "cfo@example.com"]] }, "on", "off"] };
    before(async () => {
      client = ofrepClient(service.url, CLIENT_TOKEN, validator);
      const flags = [
        { flagName: "cs-banner", variants: { on: true, off: false }, defaultVariant: "off", targeting: rule },
        { flagName: "cs-secret", variants: { on: true, off: false }, defaultVariant: "off", targeting: rule },
        {
          flagName: "cs-broken",
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: { if: [{ "<": [{ var: "secretTiers" }, 1] }, "on", "off"] },
        },
      ];
      for (const body of flags) assert.equal((await api("POST", "/flags", { body })).status, 201, body.flagName);
      await setClientSide(service, "cs-banner");
      await setClientSide(service, "cs-broken");
      await within(1000, async () => (await client.single("cs-banner", {})).status === 200);
    });

    it("evaluates a client-side flag, with only OFREP's fields", async () => {
      const result = await client.single("cs-banner", { email: "ceo@example.com" });
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { key: "cs-banner", value: true, reason: "TARGETING_MATCH", variant: "on" });
    });

    it("answers a server-only flag exactly as a flag that does not exist", async () => {
      const secret = await client.single("cs-secret", { email: "ceo@example.com" });
      const missing = await client.single("cs-never-was", { email: "ceo@example.com" });
      assert.equal(secret.status, 404);
      assert.deepEqual(secret.body, {
        ...missing.body,
        key: "cs-secret",
        errorDetails: "flag 'cs-secret' was not found",
      });
      assert.equal(missing.body.errorDetails, "flag 'cs-never-was' was not found");
      // A read token still sees it.
      assert.equal((await ofrep.single("cs-secret", { email: "ceo@example.com" })).body.value, true);
    });

    it("gets only the client-side flags in bulk; a read token gets them all", async () => {
      const result = await client.bulk({ email: "cfo@example.com" });
      assert.equal(result.status, 200);
      assert.deepEqual(
        result.body.flags.map((f: { key: string }) => f.key),
        ["cs-banner", "cs-broken"],
      );
      const all = await ofrep.bulk({ email: "cfo@example.com" });
      assert.ok(all.body.flags.some((f: { key: string }) => f.key === "cs-secret"));
      assert.ok(all.body.flags.some((f: { key: string }) => f.key === "plain"));
    });

    it("learns nothing of the rules from a failure: generic errorDetails, where a read token gets the cause", async () => {
      const context = { secretTiers: ["gold", "platinum"] };
      const forClient = await client.single("cs-broken", context);
      assert.equal(forClient.status, 400);
      assert.deepEqual(forClient.body, {
        key: "cs-broken",
        errorCode: "GENERAL",
        errorDetails: "the flag could not be evaluated for this context",
      });
      const forReader = await ofrep.single("cs-broken", context);
      assert.equal(forReader.body.errorCode, "GENERAL");
      assert.notEqual(forReader.body.errorDetails, forClient.body.errorDetails);
      const inBulk = (await client.bulk(context)).body.flags.find((f: { key: string }) => f.key === "cs-broken");
      assert.equal(inBulk.errorDetails, "the flag could not be evaluated for this context");
    });

    it("stamps lastEvaluated only on the flags it saw", async () => {
      // Neither flag evaluated by anyone before: a server-only one, and a client-side one whose
      // evaluation shows the cache holds both.
      for (const flagName of ["cs-unseen", "cs-seen"]) {
        assert.equal((await api("POST", "/flags", { body: { flagName, value: 1 } })).status, 201);
      }
      await setClientSide(service, "cs-seen");
      await within(1000, async () =>
        (await client.bulk({})).body.flags.some((f: { key: string }) => f.key === "cs-seen"),
      );
      await within(2000, async () => (await api("GET", "/flags/cs-seen")).body.lastEvaluated !== undefined);
      // The stamps of one bulk are written together: give a wrong one time to land.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await api("GET", "/flags/cs-unseen")).body.lastEvaluated, undefined);
    });

    it("sees a flag once it becomes client-side, and loses it when it stops being so", async () => {
      await setClientSide(service, "cs-secret");
      await within(1000, async () => (await client.single("cs-secret", {})).status === 200);
      await setClientSide(service, "cs-secret", false);
      await within(1000, async () => (await client.single("cs-secret", {})).status === 404);
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites.
  describe("afterwards", () => {
    it("validated every OFREP response against the OpenAPI document", () => {
      assert.ok(validator.count() > 300, `${validator.count()} validated`);
    });
  });
});
