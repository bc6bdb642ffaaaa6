import { strict as assert } from "node:assert";
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { OFREPWebProvider } from "@openfeature/ofrep-web-provider";
import { OpenFeature as ServerOpenFeature } from "@openfeature/server-sdk";
import { ProviderEvents, OpenFeature as WebOpenFeature } from "@openfeature/web-sdk";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { makeOfrepValidator, validatingFetch } from "../support/ofrep";
import { READ_TOKEN } from "../support/tokens";

/**
 * Unmodified OpenFeature packages from npm against the local runtime: the server SDK with the
 * OFREP provider (single evaluations), and the web SDK with the OFREP web provider (bulk, ETag,
 * polling) running in Node. Every response they receive is validated against the OFREP document.
 */
describe("OpenFeature OFREP providers against the local runtime", () => {
  let service: RunningService;
  let api: Client;
  const validator = makeOfrepValidator();

  before(async () => {
    ({ service, api } = await startTestService());
    const flags = [
      { flagName: "bool-flag", value: true },
      { flagName: "string-flag", variants: { hi: "hi", bye: "bye" }, defaultVariant: "hi" },
      { flagName: "number-flag", variants: { small: 1.5, big: 100 }, defaultVariant: "big" },
      { flagName: "object-flag", value: { theme: "dark", columns: 3 } },
      {
        flagName: "targeted",
        variants: { eu: "EU pricing", world: "world pricing" },
        defaultVariant: "world",
        targeting: { if: [{ in: [{ var: "country" }, ["DE", "FR"]] }, "eu", "world"] },
      },
      {
        flagName: "rollout",
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: {
          fractional: [
            ["on", 50],
            ["off", 50],
          ],
        },
      },
      { flagName: "disabled-flag", state: "DISABLED", variants: { on: true, off: false }, defaultVariant: "on" },
    ];
    for (const body of flags) assert.equal((await api("POST", "/flags", { body })).status, 201, body.flagName);
  });
  after(async () => {
    await ServerOpenFeature.close();
    await WebOpenFeature.close();
    await service?.stop();
  });

  describe("@openfeature/ofrep-provider under @openfeature/server-sdk", () => {
    const client = () => ServerOpenFeature.getClient("interop");

    before(async () => {
      await ServerOpenFeature.setProviderAndWait(
        "interop",
        new OFREPProvider({
          baseUrl: service.url,
          headers: { Authorization: `Bearer ${READ_TOKEN}` },
          fetchImplementation: validatingFetch(validator),
        }),
      );
    });

    it("evaluates boolean, string, number and object flags", async () => {
      assert.equal(await client().getBooleanValue("bool-flag", false), true);
      assert.equal(await client().getStringValue("string-flag", "x"), "hi");
      assert.equal(await client().getNumberValue("number-flag", 0), 100);
      assert.deepEqual(await client().getObjectValue("object-flag", {}), { theme: "dark", columns: 3 });
      const details = await client().getBooleanDetails("bool-flag", false);
      assert.equal(details.reason, "STATIC");
    });

    it("applies targeting to the evaluation context", async () => {
      const eu = await client().getStringDetails("targeted", "x", { targetingKey: "u1", country: "FR" });
      assert.equal(eu.value, "EU pricing");
      assert.equal(eu.reason, "TARGETING_MATCH");
      assert.equal(eu.variant, "eu");
      assert.equal(
        await client().getStringValue("targeted", "x", { targetingKey: "u1", country: "US" }),
        "world pricing",
      );
    });

    it("rolls out by targeting key, stably per user and to both sides", async () => {
      const seen = new Set<boolean>();
      for (let i = 0; i < 40; i++) {
        const value = await client().getBooleanValue("rollout", false, { targetingKey: `user-${i}` });
        assert.equal(await client().getBooleanValue("rollout", !value, { targetingKey: `user-${i}` }), value);
        seen.add(value);
      }
      assert.deepEqual([...seen].sort(), [false, true]);
    });

    it("returns the code default for a disabled flag", async () => {
      // The flag's default variant is true: false here is the application's code default.
      const details = await client().getBooleanDetails("disabled-flag", false);
      assert.equal(details.value, false);
      // ofrep-core 0.1.x, which ofrep-provider 0.1.3 (the latest published) uses, predates OFREP's
      // value-less responses (ADR-0006): it takes a 200 without `value` for a malformed response
      // and reports GENERAL, so the application gets its code default, as DISABLED means. The
      // web provider (ofrep-core 2.x) reports the reason DISABLED itself, below.
      assert.equal(details.reason, "ERROR");
      assert.equal(details.errorCode, "GENERAL", `${details.errorCode}: ${details.errorMessage}`);
    });

    it("returns the code default with FLAG_NOT_FOUND for a missing flag", async () => {
      const details = await client().getStringDetails("missing-flag", "fallback");
      assert.equal(details.value, "fallback");
      assert.equal(details.errorCode, "FLAG_NOT_FOUND");
    });

    it("reports TYPE_MISMATCH when the flag's type is not the one asked for", async () => {
      const details = await client().getNumberDetails("string-flag", 7);
      assert.equal(details.value, 7);
      assert.equal(details.errorCode, "TYPE_MISMATCH");
    });
  });

  describe("@openfeature/ofrep-web-provider under @openfeature/web-sdk (in Node)", () => {
    const client = () => WebOpenFeature.getClient("interop-web");
    let provider: OFREPWebProvider;
    const statuses: number[] = [];
    const checked = validatingFetch(validator);

    before(async () => {
      await WebOpenFeature.setContext("interop-web", { targetingKey: "user-1", country: "DE" });
      provider = new OFREPWebProvider({
        baseUrl: service.url,
        headers: [["Authorization", `Bearer ${READ_TOKEN}`]],
        fetchImplementation: async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
          const response = await checked(input, init);
          statuses.push(response.status);
          return response;
        },
        pollInterval: 200,
        changeDetection: "polling",
        cacheMode: "disabled",
      });
      await WebOpenFeature.setProviderAndWait("interop-web", provider);
    });

    it("evaluates boolean, string, number and object flags from one bulk evaluation", () => {
      assert.equal(client().getBooleanValue("bool-flag", false), true);
      assert.equal(client().getStringValue("string-flag", "x"), "hi");
      assert.equal(client().getNumberValue("number-flag", 0), 100);
      assert.deepEqual(client().getObjectValue("object-flag", {}), { theme: "dark", columns: 3 });
    });

    it("applies targeting and rollout for the static context", () => {
      assert.equal(client().getStringValue("targeted", "x"), "EU pricing");
      assert.equal(typeof client().getBooleanValue("rollout", false), "boolean");
      assert.equal(client().getBooleanDetails("rollout", false).reason, "TARGETING_MATCH");
    });

    it("returns code defaults for a disabled and a missing flag", () => {
      const disabled = client().getBooleanDetails("disabled-flag", false);
      assert.equal(disabled.value, false);
      assert.equal(disabled.reason, "DISABLED");
      const missing = client().getBooleanDetails("missing-flag", true);
      assert.equal(missing.value, true);
      assert.equal(missing.errorCode, "FLAG_NOT_FOUND");
    });

    it("re-evaluates when the context changes", async () => {
      await WebOpenFeature.setContext("interop-web", { targetingKey: "user-1", country: "US" });
      assert.equal(client().getStringValue("targeted", "x"), "world pricing");
    });

    it("polls with If-None-Match (304 while nothing changed) and picks up a change", async () => {
      // Polling sends the last ETag back; nothing changed, so the service answers 304.
      while (!statuses.includes(304)) await new Promise((resolve) => setTimeout(resolve, 50));
      const changed = new Promise<void>((resolve) =>
        client().addHandler(ProviderEvents.ConfigurationChanged, () => resolve()),
      );
      assert.equal(
        (
          await api("PUT", "/flags/string-flag", {
            body: { variants: { hi: "hi", bye: "bye" }, defaultVariant: "bye" },
          })
        ).status,
        200,
      );
      await changed;
      assert.equal(client().getStringValue("string-flag", "x"), "bye");
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites.
  describe("afterwards", () => {
    it("validated every OFREP response the providers received", () => {
      assert.ok(validator.count() >= 10, `${validator.count()} validated`);
    });
  });
});
