import * as assert from "node:assert/strict";
import { evaluatorProvider, type EvaluatorInputs, type EvaluatorOutputs } from "../src/evaluatorProvider";
import { flagProvider, type FlagInputs } from "../src/flagProvider";
import type { ServiceRef } from "../src/service";
import { failure, PROVIDER, startFlagService } from "./support";

/** As flagProvider.test.ts: the engine's calls, with the state's outputs as `olds`. */
describe("evaluatorProvider against the local runtime", function () {
  let service: ServiceRef;
  let alice: Awaited<ReturnType<typeof startFlagService>>["alice"];
  let stop: () => Promise<void>;

  before(async () => {
    ({ service, alice, stop } = await startFlagService());
  });
  after(async () => stop());

  const internal = { ends_with: [{ var: "email" }, "@example.com"] };
  const beta = { in: [{ var: "plan" }, ["beta", "enterprise"]] };
  const inputs = (name: string, expression: unknown, ref: ServiceRef = service): EvaluatorInputs =>
    ({ ...PROVIDER, service: ref, name, expression }) as EvaluatorInputs;
  const state = (outs: unknown): EvaluatorOutputs => ({ ...PROVIDER, ...(outs as EvaluatorOutputs) });

  async function created(name: string, expression: unknown): Promise<EvaluatorOutputs> {
    const result = await evaluatorProvider.create(inputs(name, expression));
    assert.equal(result.id, name);
    return state(result.outs);
  }

  it("check refuses a bad name or a missing expression at preview, and passes a valid one", async () => {
    const good = inputs("internal", internal);
    assert.deepEqual(await evaluatorProvider.check!({}, good), { inputs: good, failures: [] });
    const bad = await evaluatorProvider.check!({}, { ...PROVIDER, service, name: "-bad" });
    assert.deepEqual(
      bad.failures!.map((failure) => failure.property),
      ["name", "expression"],
    );
  });

  it("create makes the evaluator, and flags can reference it", async () => {
    const outs = await created("pf-internal", internal);
    assert.equal(outs.version, 1);
    assert.deepEqual(outs.expression, internal);
    const held = await alice("GET", "/evaluators/pf-internal");
    assert.equal(held.status, 200);
    assert.equal(held.body.createdBy, "pulumi-stack");
    const flag = await flagProvider.create({
      ...PROVIDER,
      service,
      flagName: "pf-uses-internal",
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: { if: [{ $ref: "pf-internal" }, "on", "off"] },
    } as FlagInputs);
    assert.equal(flag.id, "pf-uses-internal");
  });

  it("create refuses an evaluator someone else made, naming them, and leaves it untouched", async () => {
    assert.equal((await alice("PUT", "/evaluators/pf-theirs", { body: { expression: beta } })).status, 201);
    const error = await failure(() => evaluatorProvider.create(inputs("pf-theirs", internal)));
    assert.match(error.message, /already exists/);
    assert.match(error.message, /'alice'/);
    assert.deepEqual((await alice("GET", "/evaluators/pf-theirs")).body.expression, beta);
  });

  it("read returns what the service holds (drift after a REST change), and a blank id once it is gone", async () => {
    const outs = await created("pf-eval-drift", internal);
    assert.equal((await alice("PUT", "/evaluators/pf-eval-drift", { body: { expression: beta } })).status, 200);
    const read = await evaluatorProvider.read!("pf-eval-drift", outs);
    assert.equal(read.id, "pf-eval-drift");
    assert.deepEqual(read.props.expression, beta);
    assert.equal(read.props.version, 2);
    assert.equal(read.props.updatedBy, "alice");
    const diff = await evaluatorProvider.diff!("pf-eval-drift", state(read.props), inputs("pf-eval-drift", internal));
    assert.equal(diff.changes, true);

    assert.equal((await alice("DELETE", "/evaluators/pf-eval-drift")).status, 204);
    assert.equal((await evaluatorProvider.read!("pf-eval-drift", state(read.props))).id, undefined);
  });

  it("diff: no change, an update for a new expression, a replacement for a rename", async () => {
    const outs = await created("pf-eval-diff", internal);
    assert.deepEqual(await evaluatorProvider.diff!("pf-eval-diff", outs, inputs("pf-eval-diff", internal)), {
      changes: false,
      replaces: [],
    });
    assert.deepEqual(await evaluatorProvider.diff!("pf-eval-diff", outs, inputs("pf-eval-diff", beta)), {
      changes: true,
      replaces: [],
    });
    assert.deepEqual((await evaluatorProvider.diff!("pf-eval-diff", outs, inputs("pf-eval-2", internal))).replaces, [
      "name",
    ]);
  });

  it("update writes with If-Match; someone else's change is an error naming them, never overwritten", async () => {
    const outs = await created("pf-eval-update", internal);
    const updated = state(
      (await evaluatorProvider.update!("pf-eval-update", outs, inputs("pf-eval-update", beta))).outs,
    );
    assert.equal(updated.version, 2);
    assert.deepEqual((await alice("GET", "/evaluators/pf-eval-update")).body.expression, beta);

    const theirs = { "==": [{ var: "country" }, "NL"] };
    assert.equal((await alice("PUT", "/evaluators/pf-eval-update", { body: { expression: theirs } })).status, 200);
    const error = await failure(() =>
      evaluatorProvider.update!("pf-eval-update", updated, inputs("pf-eval-update", internal)),
    );
    assert.match(error.message, /VERSION_CONFLICT/);
    assert.match(error.message, /changed by 'alice'/);
    assert.match(error.message, /last saw version 2/);
    assert.match(error.message, /now at version 3/);
    assert.deepEqual((await alice("GET", "/evaluators/pf-eval-update")).body.expression, theirs);
  });

  it("delete deletes (gone already is fine); one a flag still references fails naming EVALUATOR_IN_USE", async () => {
    const outs = await created("pf-eval-delete", internal);
    await evaluatorProvider.delete!("pf-eval-delete", outs);
    assert.equal((await alice("GET", "/evaluators/pf-eval-delete")).status, 404);
    await evaluatorProvider.delete!("pf-eval-delete", outs);

    const used = await created("pf-eval-used", internal);
    const flag = {
      flagName: "pf-uses-used",
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: { if: [{ $ref: "pf-eval-used" }, "on", "off"] },
    };
    assert.equal((await alice("POST", "/flags", { body: flag })).status, 201);
    const error = await failure(() => evaluatorProvider.delete!("pf-eval-used", used));
    assert.match(error.message, /EVALUATOR_IN_USE/);
    assert.equal((await alice("GET", "/evaluators/pf-eval-used")).status, 200);
  });
});
