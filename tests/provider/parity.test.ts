/**
 * Local evaluation agrees with the reference over at least 1,000 contexts.
 *
 * Today the references are (1) flagd-core reading the evaluator kit's flag file itself, against
 * the provider's path (contract flags → flagd configuration → flagd-core), and (2) the values the
 * REST API stores, for plain flags served by the local runtime over the WebSocket. Once the service
 * evaluates over OFREP, the reference becomes `POST /ofrep/v1/evaluate/flags/{key}` on the local
 * runtime, with the kit's flags and evaluators loaded into it over REST: the same
 * compareEvaluations, the provider fed by that runtime as `local`.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { FeatureFlagsProvider } from "@feature-flags/openfeature-provider";
import { FlagdCore } from "@openfeature/flagd-core";
import { FlagSet } from "../../packages/openfeature-provider/src/flagSet";
import type { Flag } from "../../packages/openfeature-provider/src/protocol";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { compareEvaluations, type FlagType, sampleContexts } from "../support/parity";
import { READ_TOKEN } from "../support/tokens";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const KIT = path.resolve(__dirname, "../../../shared/testkits/flagd-evaluator/flags/testkit-flags.json");
const contexts = sampleContexts(1000);

const typeOf = (value: unknown): FlagType => {
  const type = typeof value;
  return type === "boolean" || type === "string" || type === "number" ? type : "object";
};
const DEFAULTS: Record<FlagType, unknown> = {
  boolean: false,
  string: "fallback",
  number: -1,
  object: { fallback: true },
};

describe("local evaluation parity over 1,000 contexts", () => {
  it("the evaluator kit's 60 flags and $evaluators, through contract flags, evaluate as flagd-core reads the kit", async () => {
    const text = fs.readFileSync(KIT, "utf8");
    const kit = JSON.parse(text) as { flags: Record<string, Record<string, unknown>>; $evaluators: object };
    const reference = new FlagdCore(undefined, quiet);
    reference.setConfigurations(text);
    // The kit's flags as the service would send them: flagd's fields plus the service's own.
    const local = new FlagSet(quiet);
    local.replace(
      Object.entries(kit.flags).map(([flagName, f], i) => ({ flagName, version: i + 1, ...f }) as Flag),
      kit.$evaluators as Record<string, unknown>,
    );
    const flags = Object.entries(kit.flags).map(([key, f]) => {
      const variants = Object.values((f.variants ?? {}) as Record<string, unknown>);
      const type = typeOf(variants[0]);
      return { key, type, defaultValue: DEFAULTS[type] };
    });

    const mismatches = await compareEvaluations(
      flags,
      contexts,
      async (type, key, d, c) => local.resolve(type, key, d as never, c as never),
      async (type, key, d, c) => reference.resolve(type, key, d as never, c as never),
    );

    assert.equal(flags.length * contexts.length, 60_000);
    assert.deepEqual(mismatches.slice(0, 3), []);
  });

  describe("plain flags served by the local runtime", () => {
    let service: RunningService;
    let api: Client;
    let provider: FeatureFlagsProvider;
    const plain = {
      "parity-bool": true,
      "parity-string": "blue",
      "parity-number": 42.5,
      "parity-object": { rollout: [10, 20], nested: { on: false } },
      "parity-array": ["a", 1, null],
    };

    before(async () => {
      ({ service, api } = await startTestService());
      for (const [flagName, value] of Object.entries(plain)) {
        assert.equal((await api("POST", "/flags", { body: { flagName, value } })).status, 201);
      }
      provider = new FeatureFlagsProvider({ url: service.websocketUrl, token: READ_TOKEN, logger: quiet });
      await provider.initialize();
    });
    after(async () => {
      await provider.onClose();
      await service.stop();
    });

    it("evaluate to the stored value with reason STATIC under every context, and to the default for the wrong type", async () => {
      const stored = new Map<string, unknown>();
      for (const key of Object.keys(plain)) stored.set(key, (await api("GET", `/flags/${key}`)).body.value);
      const flags = Object.entries(plain).flatMap(([key, value]) =>
        (["boolean", "string", "number", "object"] as const).map((type) => ({
          key,
          type,
          defaultValue: DEFAULTS[type],
          matches: type === typeOf(value),
        })),
      );
      const resolver = {
        boolean: provider.resolveBooleanEvaluation,
        string: provider.resolveStringEvaluation,
        number: provider.resolveNumberEvaluation,
        object: provider.resolveObjectEvaluation,
      };

      const mismatches = await compareEvaluations(
        flags,
        contexts,
        (type, key, d, c) => resolver[type].call(provider, key, d as never, c as never),
        async (type, key, d) =>
          typeOf(stored.get(key)) === type
            ? { value: stored.get(key), reason: "STATIC", variant: "default" }
            : { value: d, reason: "ERROR", errorCode: "TYPE_MISMATCH" },
      );

      assert.ok(flags.some((f) => f.matches) && flags.some((f) => !f.matches));
      assert.deepEqual(mismatches.slice(0, 3), []);
    });
  });
});
