/**
 * The evaluators table: flagd's shared `$evaluators`, one item per evaluator, keyed on `name`.
 * It also holds the flag-set version item (FLAG_SET_KEY), which every write to a flag or an
 * evaluator bumps in the same transaction. Evaluator names follow the flag-name pattern, so no
 * evaluator can be called `$flagset`.
 */
export const EVALUATORS_TABLE = {
  hashKey: "name",
  attributes: [{ name: "name", type: "S" }],
  /** For consumers that push evaluator changes (the realtime `evaluators.updated` message). */
  streamViewType: "NEW_AND_OLD_IMAGES",
} as const;

/** Key of the item whose `setVersion` counts changes to flags and evaluators. */
export const FLAG_SET_KEY = "$flagset";

/** The local runtime and tests name the evaluators table after the flags table this way. */
export const evaluatorsTableFor = (flagsTableName: string): string => `${flagsTableName}-evaluators`;
