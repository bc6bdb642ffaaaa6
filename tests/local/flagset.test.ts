import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { FlagdCore } from "@openfeature/flagd-core";
import Ajv from "ajv";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { sampleContexts } from "../support/parity";
import { CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

const SPECS = path.resolve(__dirname, "../../../shared/specs/flagd");
const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** flagd's own schema for a flag-set document, with its targeting schema beside it. */
function flagdValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SPECS, "targeting.json"), "utf8")));
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(SPECS, "flags.json"), "utf8")));
}

/** A flag set with every shape a flag can have: plain values, rules, a split, a $ref, a disabled flag. */
async function seed(api: Client) {
  const put = async (name: string, expression: unknown) =>
    assert.equal((await api("PUT", `/evaluators/${name}`, { body: { expression } })).status, 201);
  const post = async (body: Record<string, unknown>) => {
    const response = await api("POST", "/flags", { body });
    assert.equal(response.status, 201, JSON.stringify(response.body));
  };
  await put("beta-users", { in: [{ var: "email" }, ["a@example.com", "b@example.com"]] });
  await post({ flagName: "plain-bool", value: true, description: "a plain flag", clientSide: true });
  await post({ flagName: "plain-object", value: { theme: "dark", sizes: [1, 2] } });
  await post({
    flagName: "pricing",
    variants: { eur: "EUR", usd: "USD" },
    defaultVariant: "usd",
    targeting: { if: [{ in: [{ var: "country" }, ["de", "fr", "it"]] }, "eur", null] },
    metadata: { team: "payments" },
  });
  await post({
    flagName: "checkout",
    variants: { old: 1, new: 2 },
    defaultVariant: "old",
    targeting: {
      fractional: [
        ["old", 70],
        ["new", 30],
      ],
    },
  });
  await post({
    flagName: "beta",
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: { if: [{ $ref: "beta-users" }, "on", "off"] },
  });
  await post({ flagName: "retired", variants: { on: true, off: false }, defaultVariant: "off", state: "DISABLED" });
}

describe("Flags as code: GET and PUT /flagset on the local runtime", function () {
  this.timeout(120_000);
  let service: RunningService;
  let api: Client;
  let as: (token: string | undefined) => Client;

  before(async () => {
    ({ service, api, as } = await startTestService());
    await seed(api);
  });
  after(async () => {
    await service.stop();
  });

  const exported = async () => {
    const response = await api("GET", "/flagset");
    assert.equal(response.status, 200);
    return { document: response.body as Record<string, any>, etag: response.headers.get("etag") as string };
  };
  const importing = (document: unknown, query = "", headers: Record<string, string> = {}, caller = api) =>
    caller("PUT", `/flagset${query}`, { body: document, headers });

  it("exports a document flagd's schema accepts, with an ETag", async () => {
    const { document, etag } = await exported();
    const validate = flagdValidator();
    assert.ok(validate(document), JSON.stringify(validate.errors));
    assert.match(etag, /^"\d+"$/);
    assert.deepEqual(Object.keys(document.flags), [
      "beta",
      "checkout",
      "plain-bool",
      "plain-object",
      "pricing",
      "retired",
    ]);
    assert.deepEqual(document.$evaluators, {
      "beta-users": { in: [{ var: "email" }, ["a@example.com", "b@example.com"]] },
    });
    assert.deepEqual(document.flags["plain-bool"], {
      state: "ENABLED",
      variants: { default: true },
      defaultVariant: "default",
      description: "a plain flag",
      clientSide: true,
    });
  });

  it("evaluates in flagd-core exactly as the service evaluates over OFREP, over 300 contexts", async () => {
    const { document } = await exported();
    const core = new FlagdCore(undefined, quiet);
    core.setConfigurations(JSON.stringify(document));
    const contexts = sampleContexts(300).map((context, i) => ({
      ...context,
      email: i % 7 === 0 ? "a@example.com" : `user${i}@example.com`,
      country: ["de", "us", "fr", "jp"][i % 4],
    }));
    const mismatches: string[] = [];
    for (const context of contexts) {
      const bulk = await as(READ_TOKEN)("POST", "/ofrep/v1/evaluate/flags", { body: { context } });
      assert.equal(bulk.status, 200);
      for (const answer of bulk.body.flags as Array<Record<string, any>>) {
        const type = typeof answer.value === "object" ? "object" : (typeof answer.value as "boolean");
        const expected =
          answer.reason === "DISABLED"
            ? core.resolveBooleanEvaluation(answer.key, false, context, quiet)
            : core.resolve(type, answer.key, undefined as never, context as never, quiet);
        const same =
          answer.reason === "DISABLED"
            ? expected.reason === "DISABLED"
            : JSON.stringify([expected.value, expected.variant, expected.reason]) ===
              JSON.stringify([answer.value, answer.variant, answer.reason]);
        if (!same)
          mismatches.push(
            `${answer.key} ${JSON.stringify(context)}: ${JSON.stringify(answer)} vs ${JSON.stringify(expected)}`,
          );
      }
    }
    assert.deepEqual(mismatches.slice(0, 3), []);
  });

  it("imports its own export as nothing to do, and writes no version", async () => {
    const { document, etag } = await exported();
    const before = (await api("GET", "/flags/pricing")).body.version;

    const dry = await importing(document, "?dryRun=true");
    const applied = await importing(document, "", { "If-Match": etag });

    const none = { created: [], updated: [], deleted: [] };
    assert.deepEqual(dry.body, { flags: { ...none, unchanged: 6 }, evaluators: { ...none, unchanged: 1 } });
    assert.deepEqual(applied.body, dry.body);
    assert.equal(applied.headers.get("etag"), etag);
    assert.equal((await api("GET", "/flags/pricing")).body.version, before);
  });

  it("shows a dry run's summary and changes nothing; applies it with If-Match, each change an audited version", async () => {
    const { document, etag } = await exported();
    const next = structuredClone(document);
    next.flags.pricing.defaultVariant = "eur";
    next.flags["new-banner"] = { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: "on" };
    next.$evaluators["vip-users"] = { "==": [{ var: "tier" }, "vip"] };
    delete next.flags["plain-object"];

    const dry = await importing(next, "?dryRun=true&prune=true", { "If-Match": etag });
    assert.deepEqual(dry.body, {
      flags: { created: ["new-banner"], updated: ["pricing"], deleted: ["plain-object"], unchanged: 4 },
      evaluators: { created: ["vip-users"], updated: [], deleted: [], unchanged: 1 },
    });
    assert.equal((await exported()).etag, etag, "a dry run changes nothing");

    const stale = await importing(next, "?prune=true", { "If-Match": '"1"' });
    assert.deepEqual([stale.status, stale.body.error.code], [412, "VERSION_CONFLICT"]);

    const applied = await importing(next, "?prune=true", { "If-Match": etag });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.deepEqual(applied.body, dry.body);
    assert.notEqual(applied.headers.get("etag"), etag);
    const pricing = (await api("GET", "/flags/pricing/history")).body.versions[0];
    assert.deepEqual([pricing.actor, pricing.flag.defaultVariant], ["admin", "eur"]);
    assert.equal((await api("GET", "/flags/plain-object")).status, 404);
    assert.equal((await api("GET", "/evaluators/vip-users")).status, 200);

    // Afterwards the service's set is the document's (it imports as nothing to do).
    const again = await importing(next, "?dryRun=true&prune=true");
    assert.deepEqual([again.body.flags.created, again.body.flags.updated, again.body.flags.deleted], [[], [], []]);
  });

  it("refuses an invalid document with a 400 naming each problem, and changes nothing", async () => {
    const { document, etag } = await exported();
    const broken = structuredClone(document);
    broken.flags.pricing.defaultVariant = "gbp";
    broken.flags["no variants"] = { state: "ENABLED", defaultVariant: "x" };
    broken.flags.beta.targeting = { if: [{ $ref: "nobody" }, "on", "off"] };
    broken.$evaluators.bad = "not a rule";

    const response = await importing(broken, "?dryRun=false", { "If-Match": etag });

    assert.deepEqual([response.status, response.body.error.code], [400, "VALIDATION_FAILED"]);
    for (const part of ["flags.pricing", "flags.no variants", "flags.beta", "$evaluators.bad"]) {
      assert.ok(response.body.error.message.includes(part), `${part} in ${response.body.error.message}`);
    }
    assert.equal((await exported()).etag, etag);
    for (const body of [[], { flags: [] }, { flags: {}, extra: 1 }, { flags: { x: "not a flag" } }]) {
      const refused = await importing(body);
      assert.deepEqual([refused.status, refused.body.error.code], [400, "VALIDATION_FAILED"], JSON.stringify(body));
    }
    const badQuery = await importing(document, "?prune=yes");
    assert.equal(badQuery.status, 400);
  });

  it("refuses a token without write scope, and a client key even the export", async () => {
    const { document } = await exported();
    assert.equal((await importing(document, "?dryRun=true", {}, as(READ_TOKEN))).status, 403);
    assert.equal((await as(CLIENT_TOKEN)("GET", "/flagset")).status, 403);
    assert.equal((await as(READ_TOKEN)("GET", "/flagset")).status, 200);
  });

  it("refuses to change a flag under a running rollout (409), naming it", async () => {
    const { document } = await exported();
    const started = await api("PUT", "/flags/checkout/rollout", {
      body: { variant: "new", steps: [{ percent: 10, holdSeconds: 3600 }, { percent: 100 }] },
    });
    assert.equal(started.status, 201);
    const next = (await exported()).document;
    next.flags.checkout = document.flags.checkout;
    const refused = await importing(next);
    assert.deepEqual([refused.status, refused.body.error.code], [409, "ROLLOUT_RUNNING"]);
    assert.match(refused.body.error.message, /'checkout'/);
    assert.equal((await api("POST", "/flags/checkout/rollout/abort")).status, 200);
  });
});

describe("PUT /flagset?prune=true while deletion is disabled", function () {
  this.timeout(60_000);
  it("answers 403 DELETION_DISABLED and changes nothing; without prune it applies", async () => {
    const { service, api } = await startTestService({ allowFlagDeletion: () => false });
    try {
      await api("POST", "/flags", { body: { flagName: "kept", value: 1 } });
      await api("POST", "/flags", { body: { flagName: "other", value: 2 } });
      const document = { flags: { kept: { state: "ENABLED", variants: { default: 5 }, defaultVariant: "default" } } };

      const refused = await api("PUT", "/flagset?prune=true", { body: document });
      assert.deepEqual([refused.status, refused.body.error.code], [403, "DELETION_DISABLED"]);
      assert.equal((await api("GET", "/flags/kept")).body.value, 1);
      assert.equal((await api("GET", "/flags/other")).status, 200);

      const applied = await api("PUT", "/flagset", { body: document });
      assert.deepEqual(applied.body.flags, { created: [], updated: ["kept"], deleted: [], unchanged: 0 });
      const kept = (await api("GET", "/flags/kept")).body;
      assert.deepEqual([kept.variants, kept.defaultVariant], [{ default: 5 }, "default"]);
    } finally {
      await service.stop();
    }
  });
});
