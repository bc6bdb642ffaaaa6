/**
 * The rules form's model of a flag's targeting, and the exact translation between it and the
 * stored JsonLogic. `parseTargeting` accepts only the shapes the form can show, and for each of
 * them `serializeTargeting(parseTargeting(x))` is deep-equal to `x`: opening a rule in the form
 * and saving it unchanged never rewrites it. Anything else parses as `unsupported` and stays JSON.
 */

/** A JSON scalar a condition compares with. */
export type Scalar = string | number | boolean;

export const SEM_VER_OPS = ["=", "!=", "<", "<=", ">", ">=", "^", "~"] as const;
export type SemVerOp = (typeof SEM_VER_OPS)[number];

/** One test of an attribute of the evaluation context, or a shared evaluator by name. */
export type Leaf =
  | { kind: "equals"; attribute: string; value: Scalar }
  | { kind: "in"; attribute: string; values: Scalar[] }
  | { kind: "starts_with"; attribute: string; value: string }
  | { kind: "ends_with"; attribute: string; value: string }
  | { kind: "sem_ver"; attribute: string; op: SemVerOp; value: string }
  | { kind: "ref"; name: string };

/** A rule's condition: one test, or tests combined with `and` / `or` (one level). */
export type Condition = Leaf | { kind: "and" | "or"; conditions: Leaf[] };

/** Whether a condition combines tests with and/or. */
export const isGroup = (condition: Condition): condition is { kind: "and" | "or"; conditions: Leaf[] } =>
  condition.kind === "and" || condition.kind === "or";

export interface Rule {
  condition: Condition;
  /** The variant served when the condition holds. */
  variant: string;
}

export interface Split {
  variant: string;
  weight: number;
}

export type TargetingModel =
  /** No targeting: everyone gets the default variant. */
  | { kind: "none" }
  /** `{"if": [c1, v1, c2, v2, …, else?]}`; without `else` the default variant is served. */
  | { kind: "rules"; rules: Rule[]; otherwise?: string }
  /** `{"fractional": [bucketBy?, [variant, weight], …]}` */
  | { kind: "fractional"; bucketBy?: unknown; splits: Split[] }
  | { kind: "unsupported"; reason: string };

type Json = unknown;

const isObject = (node: Json): node is Record<string, Json> =>
  node !== null && typeof node === "object" && !Array.isArray(node);

/** The single operator of a JsonLogic node `{op: args}`, or undefined. */
function operator(node: Json): [string, Json] | undefined {
  if (!isObject(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 ? [keys[0], node[keys[0]]] : undefined;
}

const isScalar = (value: Json): value is Scalar =>
  typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));

/** `{"var": "name"}` exactly, as the attribute's name. */
function attributeOf(node: Json): string | undefined {
  const op = operator(node);
  return op !== undefined && op[0] === "var" && typeof op[1] === "string" ? op[1] : undefined;
}

class Unsupported extends Error {}
const unsupported = (reason: string): never => {
  throw new Unsupported(reason);
};

function parseLeaf(node: Json): Leaf {
  const op = operator(node) ?? unsupported("a condition is not a single JsonLogic operator");
  const [name, args] = op;
  if (name === "$ref") {
    return typeof args === "string" ? { kind: "ref", name: args } : unsupported("a $ref does not name an evaluator");
  }
  if (!Array.isArray(args)) return unsupported(`'${name}' with arguments the form cannot show`);
  const attribute = attributeOf(args[0]);
  if (attribute === undefined) return unsupported(`'${name}' does not test an attribute ({"var": "name"}) first`);
  switch (name) {
    case "==":
      if (args.length === 2 && isScalar(args[1])) return { kind: "equals", attribute, value: args[1] };
      break;
    case "in":
      if (args.length === 2 && Array.isArray(args[1]) && args[1].every(isScalar))
        return { kind: "in", attribute, values: [...args[1]] };
      break;
    case "starts_with":
    case "ends_with":
      if (args.length === 2 && typeof args[1] === "string") return { kind: name, attribute, value: args[1] };
      break;
    case "sem_ver":
      if (
        args.length === 3 &&
        typeof args[1] === "string" &&
        (SEM_VER_OPS as readonly string[]).includes(args[1]) &&
        typeof args[2] === "string"
      )
        return { kind: "sem_ver", attribute, op: args[1] as SemVerOp, value: args[2] };
      break;
    default:
      return unsupported(`the operator '${name}' is not one the form offers`);
  }
  return unsupported(`'${name}' with arguments the form cannot show`);
}

function parseCondition(node: Json): Condition {
  const op = operator(node);
  if (op !== undefined && (op[0] === "and" || op[0] === "or")) {
    if (!Array.isArray(op[1])) return unsupported(`'${op[0]}' without a list of conditions`);
    return { kind: op[0], conditions: op[1].map(parseLeaf) };
  }
  return parseLeaf(node);
}

function parseSplit(node: Json): Split {
  if (
    Array.isArray(node) &&
    node.length === 2 &&
    typeof node[0] === "string" &&
    typeof node[1] === "number" &&
    Number.isInteger(node[1])
  )
    return { variant: node[0], weight: node[1] };
  return unsupported("a fractional bucket is not [variant, whole-number weight]");
}

function parse(targeting: Json): TargetingModel {
  if (targeting === undefined || targeting === null) return { kind: "none" };
  const op = operator(targeting) ?? unsupported("the targeting is not a single JsonLogic operator");
  const [name, args] = op;
  if (name === "fractional") {
    if (!Array.isArray(args) || args.length === 0) return unsupported("a fractional without buckets");
    const [first, ...rest] = args;
    // flagd takes a first argument that is not a bucket as the expression to bucket by.
    if (Array.isArray(first)) return { kind: "fractional", splits: args.map(parseSplit) };
    if (rest.length === 0) return unsupported("a fractional without buckets");
    return { kind: "fractional", bucketBy: first, splits: rest.map(parseSplit) };
  }
  if (name === "if") {
    if (!Array.isArray(args) || args.length < 2) return unsupported("an 'if' without a condition and a variant");
    const rules: Rule[] = [];
    for (let i = 0; i + 1 < args.length; i += 2) {
      const variant = args[i + 1];
      if (typeof variant !== "string") return unsupported("a rule's outcome is not a variant name");
      rules.push({ condition: parseCondition(args[i]), variant });
    }
    if (args.length % 2 === 0) return { kind: "rules", rules };
    const otherwise = args.at(-1);
    if (typeof otherwise !== "string") return unsupported("the 'else' outcome is not a variant name");
    return { kind: "rules", rules, otherwise };
  }
  return unsupported(`the targeting's top operator '${name}' is not one the form offers`);
}

/** The form's model of a stored targeting (undefined when the flag has none). */
export function parseTargeting(targeting: Json): TargetingModel {
  try {
    return parse(targeting);
  } catch (error) {
    if (error instanceof Unsupported) return { kind: "unsupported", reason: error.message };
    throw error;
  }
}

function leafJson(leaf: Leaf): Json {
  switch (leaf.kind) {
    case "ref":
      return { $ref: leaf.name };
    case "equals":
      return { "==": [{ var: leaf.attribute }, leaf.value] };
    case "in":
      return { in: [{ var: leaf.attribute }, [...leaf.values]] };
    case "starts_with":
    case "ends_with":
      return { [leaf.kind]: [{ var: leaf.attribute }, leaf.value] };
    case "sem_ver":
      return { sem_ver: [{ var: leaf.attribute }, leaf.op, leaf.value] };
  }
}

const conditionJson = (condition: Condition): Json =>
  isGroup(condition) ? { [condition.kind]: condition.conditions.map(leafJson) } : leafJson(condition);

/** The JsonLogic a model stands for; undefined for no targeting. Throws for `unsupported`. */
export function serializeTargeting(model: TargetingModel): Json {
  switch (model.kind) {
    case "none":
      return undefined;
    case "rules":
      return {
        if: [
          ...model.rules.flatMap((rule) => [conditionJson(rule.condition), rule.variant]),
          ...(model.otherwise === undefined ? [] : [model.otherwise]),
        ],
      };
    case "fractional":
      return {
        fractional: [
          ...(model.bucketBy === undefined ? [] : [model.bucketBy]),
          ...model.splits.map((split) => [split.variant, split.weight]),
        ],
      };
    case "unsupported":
      throw new Error("an unsupported targeting has no form to serialize");
  }
}

const LEAF_WORDS: Record<Exclude<Leaf["kind"], "ref">, string> = {
  equals: "a value",
  in: "at least one value",
  starts_with: "a prefix",
  ends_with: "a suffix",
  sem_ver: "a version",
};

function leafProblems(leaf: Leaf, where: string, evaluators: readonly string[] | undefined): string[] {
  if (leaf.kind === "ref") {
    if (leaf.name === "") return [`${where}: pick a shared evaluator`];
    if (evaluators !== undefined && !evaluators.includes(leaf.name))
      return [`${where}: there is no shared evaluator named '${leaf.name}'`];
    return [];
  }
  const problems: string[] = [];
  if (leaf.attribute.trim() === "") problems.push(`${where}: name the attribute to test`);
  const empty =
    leaf.kind === "in"
      ? leaf.values.length === 0 || leaf.values.some((value) => value === "")
      : leaf.value === "" && leaf.kind !== "equals";
  if (empty) problems.push(`${where}: give ${LEAF_WORDS[leaf.kind]}${leaf.kind === "in" ? " (none empty)" : ""}`);
  return problems;
}

/**
 * What is wrong with a model before Save, each problem naming its rule: empty attributes, lists
 * and prefixes, variants the flag lacks, evaluators that do not exist, weights that split nothing.
 * (The service's own checks, bounds included, run on the JSON afterwards: checkForm.)
 */
export function modelProblems(
  model: TargetingModel,
  variants: readonly string[],
  evaluators?: readonly string[],
): string[] {
  const problems: string[] = [];
  const variant = (name: string | undefined, where: string) => {
    if (name === undefined || name === "") problems.push(`${where}: pick a variant`);
    else if (!variants.includes(name)) problems.push(`${where}: '${name}' is not one of the variants`);
  };
  if (model.kind === "rules") {
    if (model.rules.length === 0) problems.push("targeting: add a rule, or choose no targeting");
    model.rules.forEach((rule, index) => {
      const where = `rule ${index + 1}`;
      const { condition } = rule;
      if (isGroup(condition)) {
        if (condition.conditions.length === 0) problems.push(`${where}: add a condition`);
        condition.conditions.forEach((leaf, n) =>
          problems.push(...leafProblems(leaf, `${where}, condition ${n + 1}`, evaluators)),
        );
      } else {
        problems.push(...leafProblems(condition, where, evaluators));
      }
      variant(rule.variant, where);
    });
    if (model.otherwise !== undefined) variant(model.otherwise, "otherwise");
  }
  if (model.kind === "fractional") {
    if (model.splits.length === 0) problems.push("split: add a bucket");
    model.splits.forEach((split, index) => {
      variant(split.variant, `split bucket ${index + 1}`);
      if (!Number.isInteger(split.weight) || split.weight < 0)
        problems.push(`split bucket ${index + 1}: the weight must be a whole number, 0 or more`);
    });
    if (model.splits.length > 0 && model.splits.every((split) => split.weight === 0))
      problems.push("split: the weights must not all be 0");
  }
  return problems;
}

/** The rollout a slider edits: a fractional between two variants at the top of the targeting. */
export interface TwoWaySplit {
  first: string;
  second: string;
  /** The percentage of the first variant, rounded to a whole number. */
  percent: number;
  /** What users are bucketed by, when not flagd's default (the flag key and targeting key). */
  bucketBy?: unknown;
}

export function twoWaySplit(model: TargetingModel): TwoWaySplit | undefined {
  if (model.kind !== "fractional" || model.splits.length !== 2) return undefined;
  const [a, b] = model.splits;
  const total = a.weight + b.weight;
  if (total <= 0) return undefined;
  const percent = Math.round((a.weight * 100) / total);
  return {
    first: a.variant,
    second: b.variant,
    percent,
    ...(model.bucketBy === undefined ? {} : { bucketBy: model.bucketBy }),
  };
}

/** The model with the two-way split set to `percent` of the first variant (bucketBy kept). */
export function withPercent(
  model: TargetingModel & { kind: "fractional" },
  percent: number,
): TargetingModel & { kind: "fractional" } {
  const [a, b] = model.splits;
  return {
    ...model,
    splits: [
      { variant: a.variant, weight: percent },
      { variant: b.variant, weight: 100 - percent },
    ],
  };
}

/**
 * What Save of a two-way split will do, in words, against the stored targeting: fractional
 * buckets are stable and fill in order, so raising the first variant's share (same variants,
 * same bucketing) keeps everyone already in it. No targeting counts as nobody in yet.
 */
export function rolloutSentence(split: TwoWaySplit, stored: TargetingModel): string {
  const shares = `${split.percent} % get \`${split.first}\`, ${100 - split.percent} % \`${split.second}\``;
  if (stored.kind === "none") return `${shares}; users already in stay in.`;
  const before = twoWaySplit(stored);
  const same =
    before !== undefined &&
    stored.kind === "fractional" &&
    before.first === split.first &&
    before.second === split.second &&
    JSON.stringify(before.bucketBy) === JSON.stringify(split.bucketBy);
  if (!same) return `${shares}; this replaces the current targeting, so who gets \`${split.first}\` is decided afresh.`;
  if (split.percent >= before.percent) return `${shares}; users already in stay in.`;
  return `${shares}; ${before.percent - split.percent} % of users now getting \`${split.first}\` move to \`${split.second}\`.`;
}

/** The text of a comma-separated list of values, and back (numbers stay numbers where they were). */
export const listText = (values: readonly Scalar[]): string => values.map(String).join(", ");

export function listFromText(text: string, previous: readonly Scalar[]): Scalar[] {
  if (text.trim() === "") return [];
  const numeric = previous.length > 0 && previous.every((value) => typeof value === "number");
  return text.split(/\s*,\s*/).map((item, index) => {
    const trimmed = index === 0 ? item.trimStart() : item;
    return numeric && trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
  });
}

/** A scalar typed into a field, keeping the type the field held (a number stays a number, true/false booleans). */
export function scalarFromText(text: string, previous: Scalar): Scalar {
  if (typeof previous === "number" && text.trim() !== "" && Number.isFinite(Number(text))) return Number(text);
  if (typeof previous === "boolean" && (text === "true" || text === "false")) return text === "true";
  return text;
}
