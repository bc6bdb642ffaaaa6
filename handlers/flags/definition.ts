import { isDeepStrictEqual } from "node:util";
import { MemoryStorage } from "@openfeature/flagd-core";
import {
  BoundsError,
  compileFlag,
  type FlagdDefinition,
  measureEvaluator,
  measureRule,
} from "../../packages/openfeature-provider/src/evaluation";
import { serviceError } from "../errors";
import type { FlagDefinition } from "./model";

/**
 * The checks a flag definition passes before it is stored, with flagd's semantics. Shared by the
 * write routes, and meant for the console and the provider package too: one meaning of "valid".
 * flagd-core's own schema and targeting compiler are the authority; the checks before them only
 * exist to name the problem in words a user acts on.
 */

/** The fields that make a flag "rich" (CONTRACT.md, "Flag"). */
export const DEFINITION_FIELDS = ["state", "variants", "defaultVariant", "targeting", "metadata"] as const;

/** Variant name flagd gets for a plain `value` flag; what OFREP reports as its `variant`. */
export const PLAIN_VARIANT = "default";

/** A definition as a request gives it, before checks. */
export interface DefinitionInput extends FlagDefinition {
  value?: unknown;
}

/** What the store keeps of a checked definition. */
export interface CheckedDefinition {
  /** Absent for a rich flag without a default variant. */
  value?: unknown;
  /** Absent for a plain value flag. */
  definition?: FlagDefinition;
  /** Evaluators the targeting references with `{"$ref": name}`, sorted, without repeats. */
  refs: string[];
}

/** A no-op logger: flagd-core logs at warn while building a flag whose targeting we are refusing. */
const quietLogger = () => ({ debug() {}, info() {}, warn() {}, error() {} });

const invalid = (message: string) => serviceError("VALIDATION_FAILED", message);

type VariantKind = "boolean" | "string" | "number" | "object" | "array" | "null";
const kindOf = (value: unknown): VariantKind =>
  value === null ? "null" : Array.isArray(value) ? "array" : (typeof value as VariantKind);

/** Every `{"$ref": name}` in a JsonLogic tree, walked without recursion so hostile input cannot overflow. */
export function referencedEvaluators(targeting: unknown): string[] {
  const names = new Set<string>();
  const pending: unknown[] = [targeting];
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== "object") continue;
    if (!Array.isArray(node) && "$ref" in node) {
      const name = (node as { $ref: unknown }).$ref;
      if (typeof name !== "string") throw invalid(`targeting: a $ref must name an evaluator as a string`);
      names.add(name);
    }
    for (const child of Object.values(node)) pending.push(child);
  }
  return [...names].sort();
}

/** The flagd flag a stored flag evaluates as: a plain value becomes one variant, served STATIC. */
export function toFlagdFlag(value: unknown, definition: FlagDefinition): FlagdDefinition {
  const variants = definition.variants ?? { [PLAIN_VARIANT]: value };
  const defaultVariant = definition.variants === undefined ? PLAIN_VARIANT : (definition.defaultVariant ?? null);
  return {
    state: definition.state ?? "ENABLED",
    variants,
    defaultVariant,
    ...(definition.targeting === undefined ? {} : { targeting: definition.targeting }),
    ...(definition.metadata === undefined ? {} : { metadata: definition.metadata }),
  };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The most specific of the schema errors flagd-core reports, as `where: what`. */
function describeParseError(error: Error, flagName: string): string {
  const match = /^[^[]*(\[[\s\S]*\])\s*$/.exec(error.message);
  if (match === null) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  let errors: AjvError[];
  try {
    errors = JSON.parse(match[1]) as AjvError[];
  } catch {
    return error.message;
  }
  const specific = errors
    .filter((e) => e.keyword !== "anyOf" && e.keyword !== "oneOf" && e.keyword !== "if")
    .sort((a, b) => (b.instancePath ?? "").length - (a.instancePath ?? "").length)[0];
  if (specific === undefined) return "not a valid flagd flag definition";
  const path = (specific.instancePath ?? "").replace(`/flags/${flagName}`, "").replace(/^\//, "").replace(/\//g, ".");
  const extra = specific.params?.additionalProperty;
  const detail = extra === undefined ? "" : ` ('${String(extra)}' is not a JsonLogic or flagd operator)`;
  return `${path === "" ? "flag" : path}: ${specific.message ?? "is invalid"}${detail}`;
}

/** A rule over the evaluation bounds, as the 400 a user acts on: the path, what is wrong, the bound. */
function boundsProblem(error: unknown): never {
  if (error instanceof BoundsError) throw invalid(`${error.message} (bound: ${error.bound})`);
  throw error;
}

/**
 * Runs flagd-core over one flag, as flagd loads a flag set: its schema is binding for the flag's
 * structure (state, variants, default variant, metadata) and advisory for targeting, whose
 * operator arguments flagd resolves at evaluation time (an invalid `sem_ver` operator evaluates
 * to null, so the default variant; the flagd test kit relies on that, and on forms newer than
 * flagd-core's bundled schema, such as `v1.0.0` and partial versions). Targeting is first
 * measured against the evaluation bounds (which also refuse anything that is not a JsonLogic or
 * flagd operator), then built the way every evaluating process builds it (`compileFlag`).
 * `$ref`s stand in as placeholders: whether each evaluator exists is checked atomically when the
 * flag is stored, and each `$ref` is charged as the dearest evaluator there can be.
 */
function checkWithFlagd(flagName: string, flag: FlagdDefinition, refs: string[]): void {
  const { targeting, ...structure } = flag;
  const strict = new MemoryStorage(quietLogger());
  try {
    strict.setConfigurations(JSON.stringify({ flags: { [flagName]: structure } }), true);
  } catch (error) {
    throw invalid(describeParseError(error as Error, flagName));
  }
  if (targeting === undefined) return;
  try {
    measureRule(targeting, "flag");
  } catch (error) {
    boundsProblem(error);
  }
  const placeholders = Object.fromEntries(refs.map((name) => [name, { "==": [1, 1] }]));
  const compiled = compileFlag(flagName, flag, placeholders, quietLogger());
  if (compiled.error !== undefined) throw invalid(`targeting: ${compiled.error}`);
  if (compiled.feature.evaluate({}).errorCode === "PARSE_ERROR") {
    throw invalid("targeting: not valid JsonLogic: flagd-core cannot build it");
  }
}

/**
 * Checks a flag definition and returns what to store. Throws VALIDATION_FAILED naming the field
 * and the problem: an unknown default variant, variants of mixed types, `value` differing from the
 * default variant's, targeting that is not valid JsonLogic, and so on.
 */
export function checkDefinition(flagName: string, input: DefinitionInput): CheckedDefinition {
  const isRich = DEFINITION_FIELDS.some((field) => input[field] !== undefined);
  if (!isRich) {
    if (input.value === undefined || input.value === null) throw invalid("value: is required and must not be null");
    return { value: input.value, refs: [] };
  }
  const { variants, defaultVariant, targeting, state, metadata } = input;
  if (state !== undefined && state !== "ENABLED" && state !== "DISABLED") {
    throw invalid(`state: must be ENABLED or DISABLED, not ${JSON.stringify(state)}`);
  }
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      throw invalid("metadata: must be an object of names to strings, numbers or booleans");
    }
    for (const [name, entry] of Object.entries(metadata)) {
      if (!["string", "number", "boolean"].includes(typeof entry)) {
        throw invalid(`metadata.${name}: must be a string, number or boolean, not ${kindOf(entry)}`);
      }
    }
  }
  if (variants === undefined) {
    if (defaultVariant !== undefined || targeting !== undefined) {
      throw invalid("variants: required when defaultVariant or targeting is given");
    }
    // A plain value with a state or metadata.
    if (input.value === undefined || input.value === null) throw invalid("value: is required and must not be null");
    const definition: FlagDefinition = {
      ...(state === undefined ? {} : { state }),
      ...(metadata === undefined ? {} : { metadata }),
    };
    checkWithFlagd(flagName, toFlagdFlag(input.value, definition), []);
    return { value: input.value, definition, refs: [] };
  }
  if (variants === null || typeof variants !== "object" || Array.isArray(variants)) {
    throw invalid("variants: must be an object of variant names to values");
  }
  const names = Object.keys(variants);
  if (names.length === 0) throw invalid("variants: must name at least one variant");
  const kinds = new Map<VariantKind, string>();
  for (const name of names) {
    const kind = kindOf(variants[name]);
    if (kind === "null" || kind === "array") {
      throw invalid(
        `variants.${name}: must be a boolean, string, number or object, not ${kind === "null" ? "null" : "an array"}`,
      );
    }
    if (!kinds.has(kind)) kinds.set(kind, name);
  }
  if (kinds.size > 1) {
    const described = [...kinds].map(([kind, name]) => `'${name}' is ${kind === "object" ? "an" : "a"} ${kind}`);
    throw invalid(`variants: all variants of a flag have one type, but ${described.join(" and ")}`);
  }
  if (defaultVariant !== undefined && defaultVariant !== null) {
    if (typeof defaultVariant !== "string") throw invalid("defaultVariant: must be a variant name or null");
    if (!Object.hasOwn(variants, defaultVariant)) {
      throw invalid(`defaultVariant: '${defaultVariant}' is not one of the variants (${names.join(", ")})`);
    }
  }
  const hasDefault = typeof defaultVariant === "string";
  if (input.value !== undefined) {
    if (!hasDefault) throw invalid("value: a flag without a defaultVariant has no value; leave value out");
    if (!isDeepStrictEqual(input.value, variants[defaultVariant])) {
      throw invalid(
        `value: must equal variants.${defaultVariant} (${JSON.stringify(variants[defaultVariant])}), the default variant, or be left out`,
      );
    }
  }
  if (targeting !== undefined && (targeting === null || typeof targeting !== "object" || Array.isArray(targeting))) {
    throw invalid('targeting: must be a JsonLogic object, e.g. {"if": [...]}');
  }
  // Bounded before anything walks the rule whole (a hostile rule can be deep or wide).
  let refs: string[] = [];
  if (targeting !== undefined) {
    try {
      refs = measureRule(targeting, "flag").refs;
    } catch (error) {
      boundsProblem(error);
    }
  }
  const definition: FlagDefinition = {
    ...(state === undefined ? {} : { state }),
    variants,
    ...(defaultVariant === undefined ? {} : { defaultVariant }),
    ...(targeting === undefined ? {} : { targeting }),
    ...(metadata === undefined ? {} : { metadata }),
  };
  checkWithFlagd(flagName, toFlagdFlag(undefined, definition), refs);
  return { ...(hasDefault ? { value: variants[defaultVariant] } : {}), definition, refs };
}

/**
 * Checks a shared evaluator's expression (flagd's `$evaluators` entry): a JsonLogic object that
 * flagd-core accepts as targeting once it stands in for a `$ref`.
 */
export function checkEvaluatorExpression(expression: unknown): void {
  if (expression === null || typeof expression !== "object" || Array.isArray(expression)) {
    throw invalid('expression: must be a JsonLogic object, e.g. {"in": [{"var": "email"}, [...]]}');
  }
  try {
    measureEvaluator(expression);
  } catch (error) {
    boundsProblem(error);
  }
  const flag: FlagdDefinition = {
    state: "ENABLED",
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: expression,
  };
  const compiled = compileFlag("evaluator", flag, {}, quietLogger());
  if (compiled.error !== undefined || compiled.feature.evaluate({}).errorCode === "PARSE_ERROR") {
    throw invalid("expression: not valid JsonLogic: flagd-core cannot build it");
  }
}
