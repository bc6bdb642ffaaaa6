export { Evaluator, type EvaluatorArgs, Flag, type FlagArgs, type ServiceArgs } from "./resources";
export { flagProvider, type FlagFields, type FlagInputs, type FlagOutputs } from "./flagProvider";
export { evaluatorProvider, type EvaluatorInputs, type EvaluatorOutputs } from "./evaluatorProvider";
export type { ServiceRef } from "./service";
