import { BOUNDS } from "./limits";

/**
 * A static bound on what one evaluation of a JsonLogic rule can cost, for any context up to
 * `BOUNDS.contextBytes`. Every operator is charged what json-logic-engine (flagd-core's engine)
 * spends on it in the worst case, measured on a 64 KiB context (see the per-operator weights
 * below and `bench/evaluationBounds.ts`): a fixed cost per operator, plus a cost per element or
 * character of the data it scans, copies or hashes. Iteration operators charge their body once
 * per element. Sizes flow from the context (any `var` may be the whole context) through the
 * operators, so `merge` of two context arrays is charged for both, a `map` over it for every
 * element, and so on.
 *
 * It is deliberately conservative: it may refuse a rule that would in practice be cheap, never
 * accept one that is not. A rule is refused with the path of the part that went over and the bound.
 */

/** A refused definition: where, which bound, and a sentence for the user. */
export class BoundsError extends Error {
  constructor(
    readonly path: string,
    readonly bound: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "BoundsError";
  }
}

/** What a value computed by a rule can be, at most: characters/bytes, and elements of an array. */
interface Extent {
  size: number;
  count: number;
  /** Whether it may be a string (an array's `in` scans elements; a string's searches text). */
  text?: boolean;
  /** Whether it may be an array (`cat` turns one into text element by element). */
  list?: boolean;
}

/** Anything read from the context: a 64 KiB string, or an array of up to 32 Ki one-digit numbers. */
const CONTEXT: Extent = { size: BOUNDS.contextBytes, count: BOUNDS.contextBytes / 2, text: true, list: true };
const SCALAR: Extent = { size: 1, count: 1 };

/** The longest flag key (CONTRACT.md: `flagName`), which flagd-core puts in `$flagd.flagKey`. */
const FLAG_KEY_LENGTH = 128;

/** What either of two values can be. */
const widest = (a: Extent, b: Extent): Extent => ({
  size: Math.max(a.size, b.size),
  count: Math.max(a.count, b.count),
  text: a.text === true || b.text === true,
  list: a.list === true || b.list === true,
});

/**
 * Nanoseconds json-logic-engine spends, per element or character, measured on this project's
 * reference machine (2 cores, Node 20/24) with 64 KiB contexts and rounded up: see
 * BENCHMARKS.md, "Evaluation bounds". `node` is the fixed cost of any operator.
 */
const NS = {
  node: 5,
  literalElement: 2,
  compare: 0.1,
  arithmetic: 1,
  minMax: 2,
  inElement: 1,
  inSearch: 0.04,
  inNeedleCap: 1000,
  catChar: 1,
  catElement: 13,
  substr: 1,
  merge: 110,
  missing: 150,
  affix: 1,
  semVer: 300,
  semVerChar: 1,
  fractional: 300,
  fractionalChar: 4.5,
  every: 8,
  map: 35,
  filter: 110,
  reduce: 8,
  result: 15,
} as const;

/** JsonLogic's operators as flagd documents them (its targeting schema), and flagd's own. */
const OPERATORS = new Set([
  "var",
  "missing",
  "missing_some",
  "if",
  "==",
  "===",
  "!=",
  "!==",
  "!",
  "!!",
  "or",
  "and",
  ">",
  ">=",
  "<",
  "<=",
  "max",
  "min",
  "+",
  "-",
  "*",
  "/",
  "%",
  "map",
  "reduce",
  "filter",
  "all",
  "none",
  "some",
  "merge",
  "in",
  "cat",
  "substr",
  "fractional",
  "sem_ver",
  "starts_with",
  "ends_with",
]);

const ITERATORS = new Set(["map", "filter", "all", "none", "some", "reduce"]);

/** Property names that lead to a prototype rather than to data. */
const PROTOTYPE_NAMES = new Set(["__proto__", "constructor", "prototype"]);

interface Scope {
  /** The element an iteration body sees (`{"var": ""}`); undefined outside iterations. */
  element?: Extent;
  /** Inside a `reduce` body: the accumulator. */
  accumulator?: Extent;
  /** Iteration bodies this node is inside. */
  iterations: number;
}

interface Outcome {
  cost: number;
  extent: Extent;
}

/** How a rule is being checked: a flag's targeting (`$ref`s allowed) or an evaluator's expression. */
export type RuleKind = "flag" | "evaluator";

/** What a checked rule amounts to. */
export interface RuleMeasure {
  /** Estimated nanoseconds of one evaluation, worst context, `$ref`s charged at the evaluator bound. */
  cost: number;
  /** Objects and arrays after `$ref` expansion (each `$ref` counted at the evaluator bound). */
  nodes: number;
  /** Evaluators referenced, sorted, without repeats. */
  refs: string[];
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
const micros = (ns: number) => `${(ns / 1000).toLocaleString("en-US", { maximumFractionDigits: 0 })} µs`;

class Measurer {
  nodes = 0;
  refCount = 0;
  readonly refs = new Set<string>();
  /** The deepest part whose own cost went over the budget: the one to name. */
  culprit?: { path: string; cost: number };
  /** Re-analysing a body (for its per-element and whole-data cost) must not count its nodes twice. */
  private counting = true;

  constructor(
    private readonly kind: RuleKind,
    private readonly budget: number,
    private readonly limits: { depth: number; nodes: number },
  ) {}

  private refuse(path: string, bound: string, message: string): never {
    throw new BoundsError(path, bound, message);
  }

  private count(path: string): void {
    if (!this.counting) return;
    this.nodes++;
    if (this.nodes > this.limits.nodes) {
      this.refuse(
        path,
        `${this.kind === "flag" ? "nodes" : "evaluatorNodes"} ${this.limits.nodes}`,
        `the rule has more than ${plural(this.limits.nodes, "object and array")}${this.kind === "flag" ? " after $ref expansion (each $ref counts " + BOUNDS.evaluatorNodes + ")" : ""}`,
      );
    }
  }

  /** An object or array at `depth` (the rule itself is at 1): within the depth bound, and counted. */
  private enter(path: string, depth: number): void {
    if (depth > this.limits.depth) {
      this.refuse(
        path,
        `${this.kind === "flag" ? "depth" : "evaluatorDepth"} ${this.limits.depth}`,
        `the rule nests deeper than ${this.limits.depth} levels${this.kind === "flag" ? " after $ref expansion (each $ref counts " + BOUNDS.evaluatorDepth + ")" : ""}`,
      );
    }
    this.count(path);
  }

  private again<T>(run: () => T): T {
    const counting = this.counting;
    this.counting = false;
    try {
      return run();
    } finally {
      this.counting = counting;
    }
  }

  private charge(path: string, outcome: Outcome): Outcome {
    if (outcome.cost > this.budget && this.culprit === undefined) this.culprit = { path, cost: outcome.cost };
    return outcome;
  }

  /** A node: a literal, an array (of rules), or an operator object. `depth` counts JSON nesting. */
  visit(node: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (node === null || typeof node === "boolean" || typeof node === "number") return { cost: 0, extent: SCALAR };
    if (typeof node === "string") {
      return { cost: 0, extent: { size: Math.max(1, node.length), count: node.length, text: true } };
    }
    if (typeof node !== "object") this.refuse(path, "JSON", "is not JSON");
    this.enter(path, depth);
    if (Array.isArray(node)) return this.array(node, path, depth, scope);
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      this.refuse(
        path,
        "operators",
        keys.length === 0
          ? "an empty object is not a JsonLogic rule"
          : `an object in a rule has exactly one key, its operator (found ${keys.map((k) => `'${k}'`).join(", ")})`,
      );
    }
    const operator = keys[0];
    const args = (node as Record<string, unknown>)[operator];
    if (operator === "$ref") return this.ref(args, path, depth, scope);
    if (!OPERATORS.has(operator)) {
      this.refuse(
        path,
        "operators",
        `'${operator}' is not a JsonLogic or flagd operator${operator === "log" ? " (log writes to the evaluating process's console, and is not offered)" : ""}`,
      );
    }
    return this.charge(`${path}.${operator}`, this.operator(operator, args, `${path}.${operator}`, depth + 1, scope));
  }

  private array(items: unknown[], path: string, depth: number, scope: Scope): Outcome {
    if (items.length > BOUNDS.arrayLiteral) {
      this.refuse(
        path,
        `arrayLiteral ${BOUNDS.arrayLiteral}`,
        `an array literal has ${plural(items.length, "element")}, more than ${BOUNDS.arrayLiteral.toLocaleString("en-US")}`,
      );
    }
    let cost = NS.literalElement * items.length;
    let size = 0;
    for (let i = 0; i < items.length; i++) {
      const item = this.visit(items[i], `${path}[${i}]`, depth + 1, scope);
      cost += item.cost;
      size += Math.max(1, item.extent.size);
    }
    return { cost, extent: { size: Math.max(1, size), count: items.length, list: true } };
  }

  private ref(name: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (this.kind === "evaluator")
      this.refuse(path, "$ref", "an evaluator cannot reference another evaluator with $ref");
    if (typeof name !== "string") this.refuse(path, "$ref", "a $ref must name an evaluator as a string");
    if (scope.iterations > 0) {
      this.refuse(
        path,
        "iterationNesting",
        "a $ref cannot stand inside an iteration body (all, some, none, map, filter, reduce)",
      );
    }
    this.refCount++;
    this.refs.add(name);
    if (this.refCount > BOUNDS.refsPerFlag) {
      this.refuse(path, `refsPerFlag ${BOUNDS.refsPerFlag}`, `a flag may use $ref at most ${BOUNDS.refsPerFlag} times`);
    }
    // Charged as the worst evaluator there can be, so no later change of the evaluator can take
    // this flag over its bounds.
    if (this.counting) {
      this.nodes += BOUNDS.evaluatorNodes - 1;
      if (this.nodes > this.limits.nodes) this.count(path);
    }
    if (depth + BOUNDS.evaluatorDepth > this.limits.depth) {
      this.refuse(
        path,
        `depth ${this.limits.depth}`,
        `a $ref this deep would nest deeper than ${this.limits.depth} levels (each $ref counts ${BOUNDS.evaluatorDepth})`,
      );
    }
    return { cost: BOUNDS.evaluatorCost, extent: CONTEXT };
  }

  /** The operands of an operator: JsonLogic allows one operand without the array. */
  private operands(
    args: unknown,
    path: string,
    depth: number,
    scope: Scope,
  ): { cost: number; costs: number[]; extents: Extent[] } {
    const list = Array.isArray(args) ? args : [args];
    if (Array.isArray(args)) {
      this.enter(path, depth);
      if (list.length > BOUNDS.arrayLiteral) {
        this.refuse(
          path,
          `arrayLiteral ${BOUNDS.arrayLiteral}`,
          `an operator has more than ${BOUNDS.arrayLiteral.toLocaleString("en-US")} operands`,
        );
      }
    }
    const inner = Array.isArray(args) ? depth + 1 : depth;
    let cost = 0;
    const costs: number[] = [];
    const extents: Extent[] = [];
    for (let i = 0; i < list.length; i++) {
      const outcome = this.visit(list[i], Array.isArray(args) ? `${path}[${i}]` : path, inner, scope);
      cost += outcome.cost;
      costs.push(outcome.cost);
      extents.push(outcome.extent);
    }
    return { cost, costs, extents };
  }

  private operator(operator: string, args: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (ITERATORS.has(operator)) return this.iteration(operator, args, path, depth, scope);
    if (operator === "var") return this.variable(args, path, depth, scope);
    const { cost, costs, extents } = this.operands(args, path, depth, scope);
    const size = extents.reduce((sum, e) => sum + e.size, 0);
    const count = extents.reduce((sum, e) => sum + Math.max(1, e.count), 0);
    const base = cost + NS.node;
    switch (operator) {
      case "if": {
        // Every condition may be evaluated, then one branch: the dearest.
        let conditions = 0;
        let branch = 0;
        let largest: Extent = SCALAR;
        for (let i = 0; i < extents.length; i++) {
          const isBranch = i % 2 === 1 || i === extents.length - 1;
          if (!isBranch) {
            conditions += costs[i];
            continue;
          }
          branch = Math.max(branch, costs[i]);
          largest = widest(largest, extents[i]);
        }
        return { cost: conditions + branch + NS.node, extent: largest };
      }
      case "or":
      case "and": {
        // Any operand may be the result; all may be evaluated.
        const largest = extents.reduce(widest, SCALAR);
        return { cost: base, extent: largest };
      }
      case "!":
      case "!!":
        return { cost: base, extent: SCALAR };
      case "==":
      case "===":
      case "!=":
      case "!==":
      case "<":
      case "<=":
      case ">":
      case ">=":
        return { cost: base + NS.compare * size, extent: SCALAR };
      case "+":
      case "-":
      case "*":
      case "/":
      case "%":
        return { cost: base + NS.arithmetic * size, extent: SCALAR };
      case "max":
      case "min":
        return { cost: base + NS.minMax * count, extent: SCALAR };
      case "in": {
        // An array is scanned element by element; a string is searched for a substring, which
        // costs up to (haystack × needle) for long needles (V8's search is sublinear in neither).
        const [needle = SCALAR, haystack = SCALAR] = extents;
        const scan = NS.compare * size + NS.inElement * haystack.count;
        const search = haystack.text ? NS.inSearch * haystack.size * Math.min(needle.size, NS.inNeedleCap) : 0;
        return { cost: base + Math.max(scan, search), extent: SCALAR };
      }
      case "cat": {
        // Strings are joined as ropes; an array operand is turned into text element by element.
        const joined = extents.reduce((sum, e) => sum + (e.list === true ? e.count : 0), 0);
        return { cost: base + NS.catChar * size + NS.catElement * joined, extent: { size, count: size, text: true } };
      }
      case "substr":
        return { cost: base + NS.substr * (extents[0]?.size ?? 1), extent: extents[0] ?? SCALAR };
      case "merge":
        return { cost: base + NS.merge * count, extent: { size, count, list: true } };
      case "missing":
      case "missing_some":
        return { cost: base + NS.missing * count, extent: { size, count, list: true } };
      case "starts_with":
      case "ends_with":
        return { cost: base + NS.affix * size, extent: SCALAR };
      case "sem_ver":
        return { cost: base + NS.semVer + NS.semVerChar * size, extent: SCALAR };
      case "fractional": {
        // Buckets by hashing its first operand when that is not a [variant, weight] pair, else
        // the targeting key (context data) joined to the flag key.
        const keyed = Array.isArray(args) && args.length > 0 && !Array.isArray(args[0]);
        const key = keyed ? extents[0].size : CONTEXT.size + 128;
        return { cost: base + NS.fractional + NS.fractionalChar * key, extent: SCALAR };
      }
      default:
        return this.refuse(path, "operators", `'${operator}' is not a JsonLogic or flagd operator`);
    }
  }

  /** `var`: a literal path (never into a prototype); the whole context at worst. */
  private variable(args: unknown, path: string, depth: number, scope: Scope): Outcome {
    const list = Array.isArray(args) ? args : [args];
    const [name, fallback] = list;
    if (list.length > 2) this.refuse(path, "var", "var takes a path and an optional default");
    if (Array.isArray(args)) this.enter(path, depth);
    if (typeof name !== "string" && typeof name !== "number" && name !== undefined && name !== null) {
      this.refuse(path, "var", "the path of a var must be a string or a number, not a rule");
    }
    const segments = String(name ?? "").split(".");
    const bad = segments.find((segment) => PROTOTYPE_NAMES.has(segment));
    if (bad !== undefined) this.refuse(path, "var", `'${bad}' names no data: a var path cannot reach a prototype`);
    const fallbackOutcome =
      fallback === undefined ? { cost: 0, extent: SCALAR } : this.visit(fallback, `${path}[1]`, depth + 1, scope);
    let extent: Extent = CONTEXT;
    const first = segments[0];
    if (first === "$flagd") {
      // Set by flagd-core itself, over anything the context holds: the flag's key, a timestamp.
      extent = segments[1] === "flagKey" ? { size: FLAG_KEY_LENGTH, count: FLAG_KEY_LENGTH, text: true } : SCALAR;
    } else if (scope.accumulator !== undefined) {
      // A reduce body sees {current, accumulator} only.
      extent = first === "accumulator" ? scope.accumulator : first === "current" ? (scope.element ?? CONTEXT) : SCALAR;
    } else if (scope.element !== undefined) {
      extent = scope.element;
    }
    return { cost: NS.node + fallbackOutcome.cost, extent: widest(extent, fallbackOutcome.extent) };
  }

  /**
   * An iteration: its body runs once per element. The body is measured for a one-element item
   * (its cost per element) and for one item holding all the data (what the data itself can add);
   * a body's cost grows at least linearly with its item's size, so n × per-element + the rest bounds
   * the sum over the elements.
   */
  private iteration(operator: string, args: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (!Array.isArray(args) || args.length < 2 || args.length > 3 || (operator !== "reduce" && args.length !== 2)) {
      this.refuse(path, operator, `${operator} takes [array, rule${operator === "reduce" ? ", initial" : ""}]`);
    }
    if (scope.iterations + 1 > BOUNDS.iterationNesting) {
      this.refuse(
        path,
        `iterationNesting ${BOUNDS.iterationNesting}`,
        `iteration operators (all, some, none, map, filter, reduce) nest at most ${BOUNDS.iterationNesting} deep`,
      );
    }
    this.enter(path, depth);
    const inner = depth + 1;
    const source = this.visit(args[0], `${path}[0]`, inner, scope);
    const n = Math.max(1, source.extent.count);
    const one: Extent = { ...SCALAR, text: true, list: true };
    const whole: Extent = {
      size: source.extent.size,
      count: Math.max(1, Math.floor(source.extent.size / 2)),
      text: true,
      list: true,
    };
    const bodyPath = `${path}[1]`;
    const iterations = scope.iterations + 1;
    if (operator === "reduce") {
      const initial = args.length === 3 ? this.visit(args[2], `${path}[2]`, inner, scope) : { cost: 0, extent: SCALAR };
      const accumulator = this.accumulatorBound(args[1], bodyPath, inner, initial.extent, n, whole, iterations);
      const perElement = this.visit(args[1], bodyPath, inner, { element: one, accumulator, iterations });
      const all = this.again(() => this.visit(args[1], bodyPath, inner, { element: whole, accumulator, iterations }));
      const cost =
        source.cost +
        initial.cost +
        NS.node +
        n * (NS.reduce + perElement.cost) +
        Math.max(0, all.cost - perElement.cost);
      return { cost, extent: accumulator };
    }
    const perElement = this.visit(args[1], bodyPath, inner, { element: one, iterations });
    const all = this.again(() => this.visit(args[1], bodyPath, inner, { element: whole, iterations }));
    const weight = operator === "map" ? NS.map : operator === "filter" ? NS.filter : NS.every;
    const cost = source.cost + NS.node + n * (weight + perElement.cost) + Math.max(0, all.cost - perElement.cost);
    if (operator === "filter") return { cost, extent: source.extent };
    if (operator === "map") {
      const size = n * perElement.extent.size + Math.max(0, all.extent.size - perElement.extent.size);
      return { cost, extent: { size, count: n, list: true } };
    }
    return { cost, extent: SCALAR };
  }

  /**
   * How large a reduce's accumulator can get. A body that adds at most a fixed amount per element
   * grows it linearly; one that can copy the accumulator more than once (`merge`, `cat` of it with
   * itself) grows it exponentially, and is refused.
   */
  private accumulatorBound(
    body: unknown,
    path: string,
    depth: number,
    initial: Extent,
    n: number,
    element: Extent,
    iterations: number,
  ): Extent {
    const step = (accumulator: Extent) =>
      this.again(() => this.visit(body, path, depth, { element, accumulator, iterations })).extent;
    const s0 = initial;
    const s1 = step(s0);
    const s2 = step({ size: Math.max(s0.size, s1.size), count: Math.max(s0.count, s1.count) });
    const growth1 = Math.max(0, s1.size - s0.size);
    const growth2 = Math.max(0, s2.size - Math.max(s0.size, s1.size));
    if (growth2 > growth1) {
      this.refuse(path, "reduce", "the accumulator of this reduce can grow faster than by a fixed amount per element");
    }
    const countGrowth = Math.max(0, s1.count - s0.count);
    return { ...widest(s0, s1), size: s0.size + n * growth1, count: s0.count + n * countGrowth };
  }
}

/**
 * Measures a rule (a flag's targeting, or an evaluator's expression) against the bounds; throws
 * BoundsError naming the path and the bound when it is over one. `path` names the rule's field.
 */
export function measureRule(
  rule: unknown,
  kind: RuleKind,
  path: string = kind === "flag" ? "targeting" : "expression",
): RuleMeasure {
  const budget = kind === "flag" ? BOUNDS.flagCost : BOUNDS.evaluatorCost;
  const limits =
    kind === "flag"
      ? { depth: BOUNDS.depth, nodes: BOUNDS.nodes }
      : { depth: BOUNDS.evaluatorDepth, nodes: BOUNDS.evaluatorNodes };
  const measurer = new Measurer(kind, budget, limits);
  // flagd reads an empty targeting object as no targeting at all.
  if (isEmptyObject(rule)) return { cost: 0, nodes: 0, refs: [] };
  const outcome = measurer.visit(rule, path, 1, { iterations: 0 });
  // The variant a rule returns is turned into a string.
  const cost = outcome.cost + NS.result * outcome.extent.size;
  if (cost > budget) {
    const culprit = measurer.culprit ?? { path, cost };
    throw new BoundsError(
      culprit.path,
      `${kind === "flag" ? "flagCost" : "evaluatorCost"} ${micros(budget)}`,
      `evaluating this can take up to ~${micros(Math.max(culprit.cost, cost))} for a context of ${BOUNDS.contextBytes / 1024} KiB, over the bound of ${micros(budget)}${kind === "flag" && measurer.refCount > 0 ? ` (each $ref counts ${micros(BOUNDS.evaluatorCost)})` : ""}`,
    );
  }
  return { cost, nodes: measurer.nodes, refs: [...measurer.refs].sort() };
}

const isEmptyObject = (value: unknown) =>
  value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0;

/** The byte length of a value's JSON text, as UTF-8. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
}

/** Checks an evaluator's expression: its size, then its rule. Throws BoundsError. */
export function measureEvaluator(expression: unknown, path = "expression"): RuleMeasure {
  // The rule first: it refuses deep nesting before anything recurses over the whole value.
  const measure = measureRule(expression, "evaluator", path);
  const bytes = jsonBytes(expression);
  if (bytes > BOUNDS.evaluatorBytes) {
    throw new BoundsError(
      path,
      `evaluatorBytes ${BOUNDS.evaluatorBytes}`,
      `an evaluator is at most ${BOUNDS.evaluatorBytes / 1024} KiB of JSON (this one is ${(bytes / 1024).toFixed(1)} KiB)`,
    );
  }
  return measure;
}
