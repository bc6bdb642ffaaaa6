import { strict as assert } from "node:assert";
import type { FlagdDocument } from "../src/document";
import { asFlagdDocument } from "../src/document";
import { formatPath, hasChanges, planPromotion } from "../src/plan";
import { renderPlan } from "../src/render";

const flag = (fields: Record<string, unknown> = {}) => ({
  state: "ENABLED",
  variants: { on: true, off: false },
  defaultVariant: "off",
  ...fields,
});
const doc = (flags: Record<string, unknown>, $evaluators?: Record<string, unknown>): FlagdDocument =>
  ({ flags, ...($evaluators === undefined ? {} : { $evaluators }) }) as FlagdDocument;

describe("planPromotion", () => {
  it("finds nothing to do between equal documents, whatever their key order or metadata", () => {
    const source = doc(
      { a: flag({ targeting: { if: [{ "==": [1, 1] }, "on", "off"] } }) },
      { rule: { in: ["x", "y"] } },
    );
    const target: FlagdDocument = {
      metadata: { version: "7" },
      $evaluators: { rule: { in: ["x", "y"] } },
      flags: {
        a: {
          targeting: { if: [{ "==": [1, 1] }, "on", "off"] },
          defaultVariant: "off",
          variants: { off: false, on: true },
          state: "ENABLED",
        },
      },
    };

    const plan = planPromotion(source, target, true);

    assert.equal(hasChanges(plan), false);
    assert.equal(plan.flags.unchanged, 1);
    assert.equal(plan.evaluators.unchanged, 1);
  });

  it("lists each changed value of an updated flag by its path, old and new", () => {
    const source = doc({
      a: flag({
        defaultVariant: "on",
        targeting: { if: [{ in: ["beta", { var: "group" }] }, "on", "off"] },
        description: "new",
      }),
    });
    const target = doc({
      a: flag({ targeting: { if: [{ in: ["alpha", { var: "group" }] }, "on", "off"] }, description: "old" }),
    });

    const plan = planPromotion(source, target, false);

    assert.deepEqual(plan.flags.updated, [
      {
        name: "a",
        fields: [
          { path: "defaultVariant", kind: "changed", before: "off", after: "on" },
          { path: "targeting.if[0].in[0]", kind: "changed", before: "alpha", after: "beta" },
          { path: "description", kind: "changed", before: "old", after: "new" },
        ],
      },
    ]);
  });

  it("compares flags as the service does: flagd's defaults, and an absent description or clientSide keeps the target's", () => {
    const variants = { on: true, off: false };
    const target = doc({
      described: flag({ description: "kept", clientSide: true }),
      defaults: { state: "ENABLED", variants, defaultVariant: null, clientSide: false },
      plain: flag(),
    });
    const source = doc({ described: flag(), defaults: { variants }, plain: flag({ metadata: {} }) });

    const plan = planPromotion(source, target, false);
    const disabled = planPromotion(doc({ described: flag({ state: "DISABLED", clientSide: false }) }), target, false);

    assert.equal(plan.flags.unchanged, 2);
    assert.deepEqual(plan.flags.updated, [{ name: "plain", fields: [{ path: "metadata", kind: "added", after: {} }] }]);
    assert.deepEqual(disabled.flags.updated[0].fields, [
      { path: "state", kind: "changed", before: "ENABLED", after: "DISABLED" },
      { path: "clientSide", kind: "changed", before: true, after: false },
    ]);
  });

  it("creates what only the source has and keeps what only the target has unless pruning", () => {
    const source = doc({ shared: flag(), fresh: flag() }, { newRule: true });
    const target = doc({ shared: flag(), stale: flag() }, { oldRule: false });

    const kept = planPromotion(source, target, false);
    const pruned = planPromotion(source, target, true);

    assert.deepEqual(
      kept.flags.created.map((c) => c.name),
      ["fresh"],
    );
    assert.deepEqual(kept.flags.kept, ["stale"]);
    assert.deepEqual(kept.flags.deleted, []);
    assert.deepEqual(kept.evaluators.kept, ["oldRule"]);
    assert.deepEqual(
      pruned.flags.deleted.map((c) => c.name),
      ["stale"],
    );
    assert.deepEqual(
      pruned.evaluators.deleted.map((c) => c.name),
      ["oldRule"],
    );
    assert.deepEqual(pruned.flags.kept, []);
  });

  it("counts only flags kept in the target as no change", () => {
    const plan = planPromotion(doc({}), doc({ stale: flag() }), false);

    assert.equal(hasChanges(plan), false);
    assert.equal(hasChanges(planPromotion(doc({}), doc({ stale: flag() }), true)), true);
  });

  it("shows an evaluator whose whole value changes kind as one change", () => {
    const plan = planPromotion(doc({}, { rule: { in: ["a"] } }), doc({}, { rule: true }), false);

    assert.deepEqual(plan.evaluators.updated, [
      { name: "rule", fields: [{ path: "", kind: "changed", before: true, after: { in: ["a"] } }] },
    ]);
  });
});

describe("renderPlan", () => {
  it("prints one line per flag with its changed values indented under it and a count", () => {
    const source = doc({ a: flag({ defaultVariant: "on" }), b: flag() }, { rule: { in: ["x"] } });
    const target = doc({ a: flag(), c: flag() });

    const text = renderPlan(planPromotion(source, target, true), "staging.json", "http://prod");

    assert.equal(
      text,
      [
        "Promoting staging.json to http://prod (with --prune):",
        "+ flag b (create)",
        '      state: "ENABLED"',
        '      defaultVariant: "off"',
        '      variants: {"on":true,"off":false}',
        "~ flag a (update)",
        '      defaultVariant: "off" -> "on"',
        "- flag c (delete)",
        "+ evaluator rule (create)",
        '      value: {"in":["x"]}',
        "Flags: 1 to create, 1 to update, 1 to delete, 0 unchanged.",
        "Evaluators: 1 to create, 0 to update, 0 to delete, 0 unchanged.",
        "",
      ].join("\n"),
    );
  });
});

describe("formatPath", () => {
  it("writes indexes in brackets and quotes keys that are not identifiers", () => {
    assert.equal(formatPath(["metadata", "team name", "x"]), 'metadata["team name"].x');
    assert.equal(formatPath(["targeting", "if", 0, "in", 1]), "targeting.if[0].in[1]");
  });
});

describe("asFlagdDocument", () => {
  it("accepts flagd's array form of flags, keyed by each item's key", () => {
    const parsed = asFlagdDocument({ flags: [{ key: "a", ...flag() }] }, "file.json");

    assert.deepEqual(parsed.flags, { a: flag() });
  });

  it("rejects a document without a flags object, naming where it came from", () => {
    assert.throws(() => asFlagdDocument({ flag: {} }, "file.json"), /file\.json is not a flagd flag-set document/);
  });
});
