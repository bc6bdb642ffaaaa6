import * as assert from "node:assert/strict";
import fc from "fast-check";
import {
  listFromText,
  modelProblems,
  parseTargeting,
  rolloutSentence,
  SEM_VER_OPS,
  serializeTargeting,
  twoWaySplit,
  withPercent,
} from "../../console/src/rules/model";

const attribute = fc.oneof(fc.constantFrom("country", "email", "appVersion", "plan"), fc.string());
const scalar = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean());
const variant = fc.oneof(fc.constantFrom("on", "off", "blue"), fc.string());
const v = (name: string) => ({ var: name });

/** JsonLogic leaves of the shapes the form offers. */
const leaf = fc.oneof(
  fc.record({ a: attribute, x: scalar }).map(({ a, x }) => ({ "==": [v(a), x] })),
  fc.record({ a: attribute, xs: fc.array(scalar) }).map(({ a, xs }) => ({ in: [v(a), xs] })),
  fc.record({ a: attribute, x: fc.string() }).map(({ a, x }) => ({ starts_with: [v(a), x] })),
  fc.record({ a: attribute, x: fc.string() }).map(({ a, x }) => ({ ends_with: [v(a), x] })),
  fc
    .record({ a: attribute, op: fc.constantFrom(...SEM_VER_OPS), x: fc.string() })
    .map(({ a, op, x }) => ({ sem_ver: [v(a), op, x] })),
  fc.string().map((name) => ({ $ref: name })),
);
const condition = fc.oneof(
  leaf,
  fc.array(leaf, { maxLength: 4 }).map((all) => ({ and: all })),
  fc.array(leaf, { maxLength: 4 }).map((all) => ({ or: all })),
);
const rules = fc
  .record({
    pairs: fc.array(fc.tuple(condition, variant), { minLength: 1, maxLength: 5 }),
    otherwise: fc.option(variant, { nil: undefined }),
  })
  .map(({ pairs, otherwise }) => ({ if: [...pairs.flat(), ...(otherwise === undefined ? [] : [otherwise])] }));
const bucket = fc.tuple(variant, fc.nat(1000));
const bucketBy = fc.oneof(
  fc.constant({ var: "email" }),
  fc.constant({ cat: [{ var: "$flagd.flagKey" }, { var: "email" }] }),
);
const fractional = fc
  .record({ by: fc.option(bucketBy, { nil: undefined }), buckets: fc.array(bucket, { minLength: 1, maxLength: 5 }) })
  .map(({ by, buckets }) => ({ fractional: [...(by === undefined ? [] : [by]), ...buckets] }));
const supported = fc.oneof(rules, fractional);

describe("console rules form model", () => {
  it("round-trips every supported targeting exactly: serialize(parse(x)) deep-equals x", () => {
    fc.assert(
      fc.property(supported, (targeting) => {
        const model = parseTargeting(targeting);
        assert.notEqual(model.kind, "unsupported", JSON.stringify(model));
        assert.deepStrictEqual(serializeTargeting(model), targeting);
        // And through JSON text, as the console stores and shows it.
        const text = JSON.parse(JSON.stringify(targeting));
        assert.deepStrictEqual(serializeTargeting(parseTargeting(text)), text);
      }),
      { numRuns: 500 },
    );
  });

  it("reads no targeting as none, and none writes no targeting", () => {
    assert.deepEqual(parseTargeting(undefined), { kind: "none" });
    assert.equal(serializeTargeting({ kind: "none" }), undefined);
  });

  it("detects the shapes it cannot show, with a reason", () => {
    const cases: unknown[] = [
      { "<": [{ var: "age" }, 18] }, // top operator other than if / fractional
      { if: [{ "<": [{ var: "age" }, 18] }, "on", "off"] }, // unknown condition operator
      { if: [{ "==": ["de", { var: "country" }] }, "on", "off"] }, // value first
      { if: [{ "==": [{ var: ["country", "xx"] }, "de"] }, "on", "off"] }, // var with a default
      { if: [{ in: ["@acme", { var: "email" }] }, "on"] }, // substring "in"
      { if: [{ in: [{ var: "country" }, ["de", ["fr"]]] }, "on"] }, // a nested list
      { if: [{ and: [{ or: [{ "==": [{ var: "a" }, 1] }] }] }, "on"] }, // nested and/or
      { if: [{ "==": [{ var: "a" }, 1] }, { fractional: [["on", 1]] }, "off"] }, // outcome not a variant
      { if: [{ "==": [{ var: "a" }, 1] }, "on", { if: [{ "==": [{ var: "b" }, 2] }, "on", "off"] }] },
      { if: [{ sem_ver: [{ var: "v" }, "≥", "1.0.0"] }, "on"] },
      { if: [{ $ref: 3 }, "on"] },
      {
        fractional: [
          ["on", 50.5],
          ["off", 49.5],
        ],
      },
      { fractional: [{ var: "email" }] },
      { fractional: [] },
      { if: ["on"] },
      { "==": [1, 1], extra: true },
    ];
    for (const targeting of cases) {
      const model = parseTargeting(targeting);
      assert.equal(model.kind, "unsupported", JSON.stringify(targeting));
      assert.ok(model.kind === "unsupported" && model.reason.length > 0);
    }
  });

  it("finds nothing to show as a form in random JsonLogic that is not of a supported shape", () => {
    const other = fc
      .jsonValue()
      .filter((x) => x !== null && typeof x === "object" && !Array.isArray(x) && !("if" in x) && !("fractional" in x));
    fc.assert(fc.property(other, (x) => assert.equal(parseTargeting(x).kind, "unsupported")));
  });

  it("refuses empty lists, attributes and prefixes, unknown variants and evaluators, all-zero splits", () => {
    const model = parseTargeting({
      if: [
        { in: [{ var: "country" }, []] },
        "on",
        { and: [{ starts_with: [{ var: "" }, ""] }, { $ref: "nobody" }] },
        "of",
        "off",
      ],
    });
    assert.deepEqual(modelProblems(model, ["on", "off"], ["beta-testers"]), [
      "rule 1: give at least one value (none empty)",
      "rule 2, condition 1: name the attribute to test",
      "rule 2, condition 1: give a prefix",
      "rule 2, condition 2: there is no shared evaluator named 'nobody'",
      "rule 2: 'of' is not one of the variants",
    ]);
    assert.deepEqual(
      modelProblems(
        parseTargeting({
          fractional: [
            ["on", 0],
            ["off", 0],
          ],
        }),
        ["on", "off"],
      ),
      ["split: the weights must not all be 0"],
    );
    const fine = parseTargeting({ if: [{ in: [{ var: "country" }, ["de", "fr"]] }, "on", "off"] });
    assert.deepEqual(modelProblems(fine, ["on", "off"], []), []);
  });

  it("reads a two-way split as the first variant's percentage and writes a new one, bucketBy kept", () => {
    const by = { cat: [{ var: "$flagd.flagKey" }, { var: "email" }] };
    const model = parseTargeting({ fractional: [by, ["on", 1], ["off", 3]] });
    assert.deepEqual(twoWaySplit(model), { first: "on", second: "off", percent: 25, bucketBy: by });
    assert.equal(
      twoWaySplit(
        parseTargeting({
          fractional: [
            ["a", 1],
            ["b", 1],
            ["c", 1],
          ],
        }),
      ),
      undefined,
    );
    assert.ok(model.kind === "fractional");
    assert.deepEqual(serializeTargeting(withPercent(model, 40)), { fractional: [by, ["on", 40], ["off", 60]] });
  });

  it("says what Save of a split does: growing keeps users in, shrinking moves some out, replacing starts afresh", () => {
    const split = { first: "on", second: "off", percent: 25 };
    const stored = (targeting: unknown) => parseTargeting(targeting);
    const grow = stored({
      fractional: [
        ["on", 10],
        ["off", 90],
      ],
    });
    assert.equal(rolloutSentence(split, grow), "25 % get `on`, 75 % `off`; users already in stay in.");
    assert.equal(rolloutSentence(split, { kind: "none" }), "25 % get `on`, 75 % `off`; users already in stay in.");
    assert.equal(
      rolloutSentence(
        split,
        stored({
          fractional: [
            ["on", 40],
            ["off", 60],
          ],
        }),
      ),
      "25 % get `on`, 75 % `off`; 15 % of users now getting `on` move to `off`.",
    );
    const afresh =
      "25 % get `on`, 75 % `off`; this replaces the current targeting, so who gets `on` is decided afresh.";
    assert.equal(
      rolloutSentence(
        split,
        stored({
          fractional: [
            ["off", 90],
            ["on", 10],
          ],
        }),
      ),
      afresh,
    );
    assert.equal(rolloutSentence(split, stored({ if: [{ in: [{ var: "country" }, ["de"]] }, "on", "off"] })), afresh);
  });

  it("reads typed lists, keeping numbers where the list had numbers", () => {
    assert.deepEqual(listFromText("de, fr", []), ["de", "fr"]);
    assert.deepEqual(listFromText("1, 2,3", [7]), [1, 2, 3]);
    assert.deepEqual(listFromText("", ["de"]), []);
    assert.deepEqual(listFromText("de,", []), ["de", ""]);
  });
});
