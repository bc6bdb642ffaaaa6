export { BOUNDS } from "./limits";
export { BoundsError, jsonBytes, measureEvaluator, measureRule, type RuleKind, type RuleMeasure } from "./bounds";
export { expandRefs } from "./expand";
export { compileFlag, evaluatorChecks, type Compiled, type EvaluatorChecks, type FlagdDefinition } from "./compile";
