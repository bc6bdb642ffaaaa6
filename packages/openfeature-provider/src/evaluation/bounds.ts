import { Form } from "./cost";
import {
  constant,
  contextValue,
  type Extent,
  FLAG_KEY_LENGTH,
  literalText,
  type Outcome,
  scalar,
  wholeContext,
  widest,
} from "./extent";
import { BOUNDS } from "./limits";
import { chargeOperator } from "./operators";
import { ITERATORS, NS, OPERATORS, PROTOTYPE_NAMES } from "./weights";

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

interface Scope {
  /** The element an iteration body sees (`{"var": ""}`); undefined outside iterations. */
  element?: Extent;
  /** Inside a `reduce` body: the accumulator. */
  accumulator?: Extent;
  /** Iteration bodies this node is inside. */
  iterations: number;
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

/**
 * Walks one rule. Its fields are set in the constructor, not as class fields: Pulumi serializes
 * this code into the Lambda functions, and its class serialization keeps the constructor but drops
 * field initializers.
 */
class Measurer {
  nodes: number;
  refCount: number;
  /** Evaluators referenced, in order of first use. */
  readonly refs: string[];
  /** The deepest part whose own cost went over the budget: the one to name. */
  culprit: { path: string; cost: number } | undefined;
  /** Re-analysing a body (for its per-element and whole-data cost) must not count its nodes twice. */
  private counting: boolean;
  private readonly kind: RuleKind;
  private readonly budget: number;
  private readonly limits: { depth: number; nodes: number };

  constructor(kind: RuleKind, budget: number, limits: { depth: number; nodes: number }) {
    this.kind = kind;
    this.budget = budget;
    this.limits = limits;
    this.nodes = 0;
    this.refCount = 0;
    this.refs = [];
    this.culprit = undefined;
    this.counting = true;
  }

  private refuse(path: string, bound: string, message: string): never {
    throw new BoundsError(path, bound, message);
  }

  private addNodes(path: string, n: number): void {
    if (!this.counting) return;
    this.nodes += n;
    if (this.nodes > this.limits.nodes) {
      this.refuse(
        path,
        `${this.kind === "flag" ? "nodes" : "evaluatorNodes"} ${this.limits.nodes}`,
        `the rule has more than ${plural(this.limits.nodes, "object and array")}${this.kind === "flag" ? ` after $ref expansion (each $ref counts ${BOUNDS.evaluatorNodes})` : ""}`,
      );
    }
  }

  /** An object or array at `depth` (the rule itself is at 1): within the depth bound, and counted. */
  private enter(path: string, depth: number): void {
    if (depth > this.limits.depth) {
      this.refuse(
        path,
        `${this.kind === "flag" ? "depth" : "evaluatorDepth"} ${this.limits.depth}`,
        `the rule nests deeper than ${this.limits.depth} levels${this.kind === "flag" ? ` after $ref expansion (each $ref counts ${BOUNDS.evaluatorDepth})` : ""}`,
      );
    }
    this.addNodes(path, 1);
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
    if (this.culprit === undefined) {
      const cost = outcome.cost.worst();
      if (cost > this.budget) this.culprit = { path, cost };
    }
    return outcome;
  }

  /** A node: a literal, an array (of rules), or an operator object. `depth` counts JSON nesting. */
  visit(node: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (node === null || typeof node === "boolean" || typeof node === "number") return constant(0);
    if (typeof node === "string") return constant(0, literalText(node.length));
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
    if (!Object.hasOwn(OPERATORS, operator)) {
      this.refuse(
        path,
        "operators",
        `'${operator}' is not a JsonLogic or flagd operator${operator === "log" ? " (log writes to the evaluating process's console, and is not offered)" : ""}`,
      );
    }
    const at = `${path}.${operator}`;
    return this.charge(at, this.operator(operator, args, at, depth + 1, scope));
  }

  private array(items: unknown[], path: string, depth: number, scope: Scope): Outcome {
    if (items.length > BOUNDS.arrayLiteral) {
      this.refuse(
        path,
        `arrayLiteral ${BOUNDS.arrayLiteral}`,
        `an array literal has ${plural(items.length, "element")}, more than ${BOUNDS.arrayLiteral.toLocaleString("en-US")}`,
      );
    }
    // Literals (most of a long list) cost nothing to walk and are summed as plain numbers: this
    // walk runs again for every iteration body it is in, at write time and wherever flags load.
    let literalBytes = 1;
    const costs: Form[] = [Form.of(NS.literalElement * items.length)];
    const sizes: Form[] = [];
    for (let i = 0; i < items.length; i++) {
      const value = items[i];
      if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        literalBytes += (typeof value === "string" ? Math.max(1, value.length) : 1) + 1;
        continue;
      }
      const item = this.visit(value, `${path}[${i}]`, depth + 1, scope);
      costs.push(item.cost);
      sizes.push(item.extent.size.plus(1));
    }
    sizes.push(Form.of(literalBytes));
    return { cost: Form.sum(costs), extent: { size: Form.sum(sizes), count: Form.of(items.length), list: true } };
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
    if (!this.refs.includes(name)) this.refs.push(name);
    if (this.refCount > BOUNDS.refsPerFlag) {
      this.refuse(path, `refsPerFlag ${BOUNDS.refsPerFlag}`, `a flag may use $ref at most ${BOUNDS.refsPerFlag} times`);
    }
    // Charged as the dearest evaluator there can be, so that no later change of the evaluator can
    // take this flag over its bounds.
    this.addNodes(path, BOUNDS.evaluatorNodes - 1);
    if (depth - 1 + BOUNDS.evaluatorDepth > this.limits.depth) {
      this.refuse(
        path,
        `depth ${this.limits.depth}`,
        `a $ref this deep would nest deeper than ${this.limits.depth} levels (each $ref counts ${BOUNDS.evaluatorDepth})`,
      );
    }
    return constant(BOUNDS.evaluatorCost, wholeContext());
  }

  /** The operands of an operator: JsonLogic allows one operand without the array. */
  private operands(args: unknown, path: string, depth: number, scope: Scope): Outcome[] {
    if (!Array.isArray(args)) return [this.visit(args, path, depth, scope)];
    this.enter(path, depth);
    if (args.length > BOUNDS.arrayLiteral) {
      this.refuse(
        path,
        `arrayLiteral ${BOUNDS.arrayLiteral}`,
        `an operator has more than ${BOUNDS.arrayLiteral.toLocaleString("en-US")} operands`,
      );
    }
    return args.map((arg, i) => this.visit(arg, `${path}[${i}]`, depth + 1, scope));
  }

  private operator(operator: string, args: unknown, path: string, depth: number, scope: Scope): Outcome {
    if (Object.hasOwn(ITERATORS, operator)) return this.iteration(operator, args, path, depth, scope);
    if (operator === "var") return this.variable(args, path, depth, scope);
    const outcome = chargeOperator(operator, args, this.operands(args, path, depth, scope));
    return outcome ?? this.refuse(path, "operators", `'${operator}' is not a JsonLogic or flagd operator`);
  }

  /** `var`: a literal path (never into a prototype); at worst the whole value of its context key. */
  private variable(args: unknown, path: string, depth: number, scope: Scope): Outcome {
    const list = Array.isArray(args) ? args : [args];
    if (Array.isArray(args)) this.enter(path, depth);
    if (list.length > 2) this.refuse(path, "var", "var takes a path and an optional default");
    const [name, fallback] = list;
    if (typeof name !== "string" && typeof name !== "number" && name !== undefined && name !== null) {
      this.refuse(path, "var", "the path of a var must be a string or a number, not a rule");
    }
    const segments = String(name ?? "").split(".");
    const bad = segments.find((segment) => Object.hasOwn(PROTOTYPE_NAMES, segment));
    if (bad !== undefined) this.refuse(path, "var", `'${bad}' names no data: a var path cannot reach a prototype`);
    const fallbackOutcome =
      fallback === undefined
        ? constant(0)
        : this.visit(fallback, `${path}[1]`, Array.isArray(args) ? depth + 1 : depth, scope);
    const first = segments[0];
    let extent: Extent;
    if (scope.accumulator !== undefined) {
      // A reduce body sees {current, accumulator} only.
      extent =
        first === "accumulator"
          ? scope.accumulator
          : first === "current"
            ? (scope.element ?? wholeContext())
            : scalar();
    } else if (scope.element !== undefined) {
      extent = scope.element;
    } else if (first === "$flagd") {
      // Set by flagd-core itself, over anything the context holds: the flag's key, a timestamp.
      extent = segments[1] === "flagKey" ? literalText(FLAG_KEY_LENGTH) : scalar();
    } else if (first === "") {
      extent = wholeContext();
    } else {
      extent = contextValue(first);
    }
    return { cost: fallbackOutcome.cost.plus(NS.node), extent: widest([extent, fallbackOutcome.extent]) };
  }

  /**
   * An iteration: its body runs once per element. The body is measured for a one-byte element
   * (its cost per element) and for one element holding all the data (what the data itself can
   * add); a body's cost grows at least linearly with its element's size, so n × per-element + the
   * rest bounds the sum over the elements.
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
    const n = Form.max([source.extent.count, Form.of(1)]);
    const one: Extent = { size: Form.of(1), count: Form.of(1), text: true, list: true };
    const whole: Extent = { size: source.extent.size, count: source.extent.size.scale(0.5), text: true, list: true };
    const bodyPath = `${path}[1]`;
    const iterations = scope.iterations + 1;
    const perElementAndRest = (accumulator?: Extent) => {
      const perElement = this.visit(args[1], bodyPath, inner, { element: one, accumulator, iterations });
      const all = this.again(() => this.visit(args[1], bodyPath, inner, { element: whole, accumulator, iterations }));
      return { perElement, all, rest: all.cost.minus(perElement.cost) };
    };
    if (operator === "reduce") {
      const initial = args.length === 3 ? this.visit(args[2], `${path}[2]`, inner, scope) : constant(0);
      const accumulator = this.accumulatorBound(args[1], bodyPath, inner, initial.extent, n, whole, iterations);
      const { perElement, rest } = perElementAndRest(accumulator);
      const cost = Form.sum([
        source.cost,
        initial.cost,
        Form.of(NS.node),
        n.times(perElement.cost.plus(NS.reduce)),
        rest,
      ]);
      return { cost, extent: accumulator };
    }
    const { perElement, all, rest } = perElementAndRest();
    const weight = operator === "map" ? NS.map : operator === "filter" ? NS.filter : NS.every;
    const cost = Form.sum([source.cost, Form.of(NS.node), n.times(perElement.cost.plus(weight)), rest]);
    if (operator === "filter") return { cost, extent: { ...source.extent, list: true } };
    if (operator === "map") {
      const size = n.times(perElement.extent.size).plus(all.extent.size.minus(perElement.extent.size));
      return { cost, extent: { size, count: n, list: true, text: false } };
    }
    return { cost, extent: scalar() };
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
    n: Form,
    element: Extent,
    iterations: number,
  ): Extent {
    const step = (accumulator: Extent) =>
      this.again(() => this.visit(body, path, depth, { element, accumulator, iterations })).extent;
    const s0 = initial;
    const s1 = step(s0);
    const s01 = widest([s0, s1]);
    const s2 = step(s01);
    const growth1 = s1.size.minus(s0.size);
    const growth2 = s2.size.minus(s01.size);
    if (growth2.worst() > growth1.worst()) {
      this.refuse(path, "reduce", "the accumulator of this reduce can grow faster than by a fixed amount per element");
    }
    return {
      ...s01,
      size: s0.size.plus(n.times(growth1)),
      count: s0.count.plus(n.times(s1.count.minus(s0.count))),
    };
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
  // The variant a flag's rule returns is turned into a string (an evaluator's result is the
  // flag's to pay for: a $ref is charged as a value of the whole context).
  const result =
    kind === "evaluator"
      ? Form.zero()
      : outcome.extent.size.scale(outcome.extent.list === true ? NS.coerceByte : NS.result);
  const cost = outcome.cost.plus(result).worst();
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
  // What a $ref stands for is a rule: an object with one operator, never a bare value.
  if (expression === null || typeof expression !== "object" || Array.isArray(expression)) {
    throw new BoundsError(
      path,
      "operators",
      'an evaluator is a JsonLogic object, e.g. {"in": [{"var": "email"}, [...]]}',
    );
  }
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
