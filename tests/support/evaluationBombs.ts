import fc from "fast-check";
import type { EvaluationContext, Logger } from "@openfeature/core";
import { BOUNDS, BoundsError, compileFlag, measureRule } from "../../packages/openfeature-provider/src/evaluation";

/**
 * Rules and contexts for proving the evaluation bounds: families of rules that grow with a
 * parameter (the shapes that make evaluation expensive: iteration over context data, nested
 * iteration, merge, cat, missing, reduce, fractional, long `in` lists), the largest member of each
 * that the bounds accept and the next one, and the worst contexts OFREP accepts (64 KiB of JSON).
 * Shared by the property test and `npm run bench` (bench/evaluationBounds.ts).
 */

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A family of rules: `rule(n)` grows with n (and so does its cost). */
export interface Family {
  name: string;
  rule: (n: number) => unknown;
  /** The largest n worth trying. */
  max: number;
}

const range = (n: number, at = 0) => Array.from({ length: n }, (_, i) => i + at);
const wrap = (rule: unknown) => ({ if: [rule, "on", "off"] });

export const FAMILIES: Family[] = [
  {
    name: "some over a context array, body of n comparisons",
    max: 400,
    rule: (n) => wrap({ some: [{ var: "xs" }, { or: range(n).map((i) => ({ "==": [{ var: "" }, i] })) }] }),
  },
  {
    name: "all over a literal array of n, inner some over context",
    max: 10_000,
    rule: (n) => wrap({ all: [range(n), { some: [{ var: "xs" }, { "==": [{ var: "" }, 1] }] }] }),
  },
  {
    name: "nested all over merge of n literals and the element",
    max: 10_000,
    rule: (n) =>
      wrap({
        all: [
          { merge: [range(n), { var: "xs" }] },
          { all: [{ merge: [range(n), { var: "" }] }, { "==": [{ var: "" }, 0] }] },
        ],
      }),
  },
  { name: "merge of n context values", max: 200, rule: (n) => wrap({ merge: range(n).map(() => ({ var: "xs" })) }) },
  {
    name: "cat of n context values",
    max: 200,
    rule: (n) => wrap({ "==": [{ cat: range(n).map(() => ({ var: "xs" })) }, "x"] }),
  },
  {
    name: "missing over n context values",
    max: 200,
    rule: (n) => wrap({ missing: { merge: range(n).map(() => ({ var: "xs" })) } }),
  },
  {
    name: "reduce over context, + body, n extra terms",
    max: 2_000,
    rule: (n) =>
      wrap({
        ">": [{ reduce: [{ var: "xs" }, { "+": [{ var: "accumulator" }, { var: "current" }, ...range(n)] }, 0] }, 1],
      }),
  },
  {
    name: "map over context then filter, body of n nodes",
    max: 400,
    rule: (n) =>
      wrap({ filter: [{ map: [{ var: "xs" }, { "+": [{ var: "" }, ...range(n)] }] }, { ">": [{ var: "" }, 0] }] }),
  },
  {
    name: "n fractionals on a context key",
    max: 50,
    rule: (n) => ({ or: range(n).map(() => ({ fractional: [{ var: "xs" }, ["on", 50], ["off", 50]] })) }),
  },
  {
    name: "n sem_ver comparisons of context values",
    max: 2_000,
    rule: (n) => wrap({ and: range(n).map(() => ({ sem_ver: [{ var: "xs" }, ">=", "1.0.0"] })) }),
  },
  {
    name: "in with a context needle and haystack, n times",
    max: 200,
    rule: (n) => wrap({ and: range(n).map(() => ({ in: [{ var: "needle" }, { var: "xs" }] })) }),
  },
  {
    name: "in over a literal list of n e-mails",
    max: 10_000,
    rule: (n) => wrap({ in: [{ var: "email" }, range(n).map((i) => `user${i}@example.com`)] }),
  },
  {
    name: "n substr of context strings",
    max: 2_000,
    rule: (n) => wrap({ and: range(n).map(() => ({ substr: [{ var: "xs" }, 1] })) }),
  },
  {
    name: "max over n context arrays",
    max: 2_000,
    rule: (n) => wrap({ ">": [{ max: range(n).map(() => ({ var: "xs" })) }, 1] }),
  },
];

/** The largest n the bounds accept for a family (binary search; cost grows with n), and n + 1. */
export function atTheBound(family: Family): { accepted: number; refused?: number } {
  const accepts = (n: number) => {
    try {
      measureRule(family.rule(n), "flag");
      return true;
    } catch (error) {
      if (error instanceof BoundsError) return false;
      throw error;
    }
  };
  if (!accepts(1)) return { accepted: 0, refused: 1 };
  if (accepts(family.max)) return { accepted: family.max };
  let low = 1;
  let high = family.max;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (accepts(middle)) low = middle;
    else high = middle;
  }
  return { accepted: low, refused: high };
}

/** JSON bytes of a context, as OFREP counts them. */
export const contextBytes = (context: unknown) => Buffer.byteLength(JSON.stringify({ context }));

/**
 * The worst contexts OFREP accepts for these rules: one value as large as 64 KiB allows (an array
 * of one-digit numbers, a string, an array of version strings, a wide object), under the names
 * the families read. OFREP refuses an array that holds arrays or objects
 * (handlers/ofrep/routes.ts), so none is here.
 */
export function hostileContexts(): Array<{ name: string; context: Record<string, unknown> }> {
  const budget = BOUNDS.contextBytes - 200;
  const fill = (bytesEach: number, value: unknown) => Array(Math.floor(budget / bytesEach)).fill(value);
  const shapes: Array<[string, unknown]> = [
    ["array of 0s", fill(2, 0)],
    ["array of 1s", fill(2, 1)],
    ["string", "a".repeat(budget)],
    ["array of true", fill(5, true)],
    ["array of null", fill(5, null)],
    ["object of 0s", Object.fromEntries(Array.from({ length: Math.floor(budget / 10) }, (_, i) => [`k${i}`, 0]))],
    ["array of versions", fill(8, "1.2.3")],
    ["array of 'a'", fill(4, "a")],
  ];
  // Round-tripped through JSON, as OFREP parses a request: no value shared between elements.
  const contexts = shapes.map(([name, value]) => ({
    name,
    context: JSON.parse(JSON.stringify({ targetingKey: "k", xs: value })) as Record<string, unknown>,
  }));
  contexts.push({
    name: "needle and haystack strings",
    context: { targetingKey: "k", needle: `${"a".repeat(budget / 4)}c`, xs: "ab".repeat(Math.floor(budget / 4)) },
  });
  contexts.push({ name: "long targeting key", context: { targetingKey: "k".repeat(budget), xs: [0] } });
  contexts.push({ name: "long e-mail", context: { targetingKey: "k", email: "e".repeat(budget) } });
  return contexts.filter((c) => contextBytes(c.context) <= BOUNDS.contextBytes);
}

/**
 * The slowest of `runs` evaluations of a rule (compiled as every process compiles it, the first
 * evaluation included), in milliseconds of wall time.
 */
export function slowestEvaluation(rule: unknown, context: Record<string, unknown>, runs = 3): number {
  const compiled = compileFlag(
    "bomb",
    { state: "ENABLED", variants: { on: "on", off: "off" }, defaultVariant: "off", targeting: rule },
    {},
    quiet,
  );
  if (compiled.error !== undefined) throw new Error(`an accepted rule did not compile: ${compiled.error}`);
  let slowest = 0;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    compiled.feature.evaluate(context as EvaluationContext);
    slowest = Math.max(slowest, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return slowest;
}

/** The fastest of `tries` measurements of the slowest evaluation: what the rule costs, not the machine. */
export const costOf = (rule: unknown, context: Record<string, unknown>, tries = 2) =>
  Math.min(...Array.from({ length: tries }, () => slowestEvaluation(rule, context)));

const VARS = ["xs", "", "email", "accumulator", "current", "targetingKey", "$flagd.flagKey"];

/** Arbitrary JsonLogic rules over flagd's operators, with literals up to the array bound. */
export function arbitraryRule(): fc.Arbitrary<unknown> {
  const { rule } = fc.letrec((tie) => ({
    rule: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.record({ var: fc.constantFrom(...VARS) }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom("a", "1.0.0", "beta"),
      fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3000 }),
      fc
        .tuple(fc.constantFrom("all", "some", "none", "map", "filter"), tie("rule"), tie("rule"))
        .map(([op, a, b]) => ({ [op]: [a, b] })),
      fc.tuple(tie("rule"), tie("rule"), tie("rule")).map(([a, b, c]) => ({ reduce: [a, b, c] })),
      fc
        .tuple(
          fc.constantFrom("merge", "cat", "and", "or", "if", "+", "max", "in", "==", "<", "missing"),
          fc.array(tie("rule"), { minLength: 1, maxLength: 5 }),
        )
        .map(([op, args]) => ({ [op]: args })),
      fc.tuple(tie("rule")).map(([a]) => ({ fractional: [a, ["on", 50], ["off", 50]] })),
      fc.tuple(tie("rule")).map(([a]) => ({ sem_ver: [a, ">=", "1.0.0"] })),
      fc.tuple(tie("rule")).map(([a]) => ({ starts_with: [a, "a"] })),
    ),
  }));
  return rule;
}
