/**
 * The provider evaluates in process exactly as the service evaluates over OFREP: the evaluator
 * kit's flags and evaluators are loaded into the local runtime over REST, a FeatureFlagsProvider
 * holds them from the WebSocket, and every flag is evaluated under 1,000 contexts both ways
 * (OFREP's bulk endpoint once per context).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { FeatureFlagsProvider } from "@feature-flags/openfeature-provider";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { compareEvaluations, type FlagType, type Outcome, sampleContexts } from "../support/parity";
import { READ_TOKEN } from "../support/tokens";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const KIT = path.resolve(__dirname, "../../../shared/testkits/flagd-evaluator/flags/testkit-flags.json");
const DEFAULTS: Record<FlagType, unknown> = {
  boolean: false,
  string: "fallback",
  number: -1,
  object: { fallback: true },
};

interface OfrepResult {
  key: string;
  value?: unknown;
  reason?: string;
  variant?: string;
  errorCode?: string;
}

const typeOf = (value: unknown): FlagType => {
  const type = typeof value;
  return type === "boolean" || type === "string" || type === "number" ? type : "object";
};

/** What an OpenFeature SDK makes of an OFREP answer for a `type` evaluation with `defaultValue`. */
function fromOfrep(result: OfrepResult | undefined, type: FlagType, defaultValue: unknown): Outcome {
  if (result === undefined) return { value: defaultValue, reason: "ERROR", errorCode: "FLAG_NOT_FOUND" };
  if (result.errorCode !== undefined) return { value: defaultValue, reason: "ERROR", errorCode: result.errorCode };
  if (!("value" in result)) return { value: defaultValue, reason: result.reason, variant: result.variant };
  if (typeOf(result.value) !== type) return { value: defaultValue, reason: "ERROR", errorCode: "TYPE_MISMATCH" };
  return { value: result.value, reason: result.reason, variant: result.variant };
}

describe("local evaluation equals OFREP's, over the evaluator kit and 1,000 contexts", () => {
  let service: RunningService;
  let api: Client;
  let provider: FeatureFlagsProvider;
  const created: Array<{ key: string; type: FlagType }> = [];
  const refused: string[] = [];

  before(async function () {
    this.timeout(300_000);
    ({ service, api } = await startTestService());
    const kit = JSON.parse(fs.readFileSync(KIT, "utf8")) as {
      flags: Record<string, { variants?: Record<string, unknown> }>;
      $evaluators: Record<string, unknown>;
    };
    for (const [name, expression] of Object.entries(kit.$evaluators)) {
      assert.equal((await api("PUT", `/evaluators/${name}`, { body: { expression } })).status, 201, name);
    }
    for (const [flagName, definition] of Object.entries(kit.flags)) {
      const result = await api("POST", "/flags", { body: { flagName, ...definition } });
      if (result.status === 201)
        created.push({ key: flagName, type: typeOf(Object.values(definition.variants ?? {})[0]) });
      else refused.push(flagName);
    }
    provider = new FeatureFlagsProvider({ url: service.websocketUrl, token: READ_TOKEN, logger: quiet });
    await provider.initialize();
  });

  after(async () => {
    await provider?.onClose();
    await service?.stop();
  });

  it("takes every flag of the kit but the one whose $ref names no evaluator (a 400 here)", () => {
    assert.deepEqual(refused, ["ref-to-nonexistent-evaluator-flag"]);
  });

  it("gives the same value, reason, variant and error code as OFREP for every flag and context", async () => {
    const contexts = sampleContexts(1000);
    const flags = created.map(({ key, type }) => ({ key, type, defaultValue: DEFAULTS[type] }));
    const resolver = {
      boolean: provider.resolveBooleanEvaluation,
      string: provider.resolveStringEvaluation,
      number: provider.resolveNumberEvaluation,
      object: provider.resolveObjectEvaluation,
    };
    // One bulk OFREP request per context, shared by that context's flags.
    const bulk = new Map<Record<string, unknown>, Promise<Map<string, OfrepResult>>>();
    const evaluated = (context: Record<string, unknown>) => {
      let answer = bulk.get(context);
      if (answer === undefined) {
        answer = api("POST", "/ofrep/v1/evaluate/flags", { body: { context } }).then((result) => {
          assert.equal(result.status, 200);
          return new Map((result.body.flags as OfrepResult[]).map((flag) => [flag.key, flag]));
        });
        bulk.set(context, answer);
      }
      return answer;
    };

    const mismatches = await compareEvaluations(
      flags,
      contexts,
      async (type, key, d, c) => (await resolver[type].call(provider, key, d as never, c as never)) as Outcome,
      async (type, key, d, c) => fromOfrep((await evaluated(c)).get(key), type, d),
    );

    assert.ok(flags.length >= 59 && contexts.length === 1000);
    assert.deepEqual(mismatches.slice(0, 3), []);
  });
});
