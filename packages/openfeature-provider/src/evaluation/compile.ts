import type { Logger } from "@openfeature/core";
import { FeatureFlag } from "@openfeature/flagd-core";
import type { FlagdFlag } from "../flagd";
import { BoundsError, measureEvaluator, measureRule } from "./bounds";
import { expandRefs } from "./expand";

/** One flag as flagd defines it (`flags.<key>` of a flag set). */
export type FlagdDefinition = FlagdFlag;

/** A compiled flag, or why it could not be compiled (it then fails alone, with PARSE_ERROR). */
export type Compiled = { feature: FeatureFlag; error?: undefined } | { feature?: undefined; error: string };

/**
 * Checks of evaluators, remembered per expression object: a flag set checks each evaluator once,
 * however many flags use it.
 */
export type EvaluatorChecks = WeakMap<object, string | null>;

export function evaluatorChecks(): EvaluatorChecks {
  return new WeakMap();
}

function checkEvaluator(name: string, expression: unknown, checks: EvaluatorChecks): string | undefined {
  // Not an object: no WeakMap key, and measureEvaluator refuses it anyway.
  if (expression === null || typeof expression !== "object") return `evaluator '${name}' is not a JsonLogic object`;
  let verdict = checks.get(expression);
  if (verdict === undefined) {
    try {
      measureEvaluator(expression, `$evaluators.${name}`);
      verdict = null;
    } catch (error) {
      verdict =
        error instanceof BoundsError
          ? `over the evaluation bounds: ${error.message} (bound: ${error.bound})`
          : `evaluator '${name}': ${String(error)}`;
    }
    checks.set(expression, verdict);
  }
  return verdict ?? undefined;
}

/**
 * Builds one flag for evaluation, the one way every process does it (the OFREP handler, the
 * local runtime, the provider package, the console's checks): its targeting is measured against
 * the evaluation bounds, so are the evaluators it references, `$ref`s are expanded as data, and
 * flagd-core builds the result. Anything over a bound, or that flagd-core refuses, comes back as
 * an error for this flag alone: it then evaluates to PARSE_ERROR, and no other flag is affected.
 * Never throws.
 */
export function compileFlag(
  key: string,
  flag: FlagdDefinition,
  evaluators: Readonly<Record<string, unknown>>,
  logger: Logger,
  checks: EvaluatorChecks = evaluatorChecks(),
): Compiled {
  try {
    let targeting = flag.targeting;
    if (targeting !== undefined && targeting !== null) {
      const { refs } = measureRule(targeting, "flag");
      for (const name of refs) {
        if (!Object.hasOwn(evaluators, name)) return { error: `targeting: evaluator '${name}' does not exist` };
        const problem = checkEvaluator(name, evaluators[name], checks);
        if (problem !== undefined) return { error: problem };
      }
      targeting = expandRefs(targeting, evaluators);
    }
    const feature = new FeatureFlag(key, { ...flag, targeting, metadata: flag.metadata ?? {} } as never, logger);
    return { feature };
  } catch (error) {
    if (error instanceof BoundsError) {
      return { error: `over the evaluation bounds: ${error.message} (bound: ${error.bound})` };
    }
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
