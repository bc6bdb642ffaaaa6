/**
 * The evaluation bounds (CONTRACT.md, "Flag": evaluation is cheap by construction). One place for
 * every process that stores or evaluates a definition: the service's write routes, the OFREP
 * handler, the local runtime, this provider and the web console. The README lists them and why.
 */
export const BOUNDS = {
  /** The largest evaluation context OFREP accepts, in bytes of JSON: the worst data a rule meets. */
  contextBytes: 64 * 1024,
  /** JSON nesting of a flag's targeting, after `$ref` expansion (json-logic-engine builds recursively). */
  depth: 32,
  /** Objects and arrays in a flag's targeting, after `$ref` expansion. */
  nodes: 2_000,
  /** Elements of one array literal (a list of users, say). */
  arrayLiteral: 10_000,
  /** Iteration operators (`all`, `some`, `none`, `map`, `filter`, `reduce`) inside one another's bodies. */
  iterationNesting: 2,
  /** `{"$ref": …}` occurrences in one flag's targeting (a DynamoDB transaction holds 100 actions). */
  refsPerFlag: 8,
  /** Estimated cost of one evaluation of a flag, worst context, in nanoseconds of this model. */
  flagCost: 1_000_000,
  /** Estimated cost of one evaluator; every `$ref` in a flag is charged this much, whatever it names. */
  evaluatorCost: 100_000,
  /** Objects and arrays in one evaluator's expression. */
  evaluatorNodes: 100,
  /** JSON nesting of one evaluator's expression; every `$ref` is charged this deep. */
  evaluatorDepth: 12,
  /** One evaluator's expression, as JSON. */
  evaluatorBytes: 32 * 1024,
  /**
   * All evaluators together, as the JSON object `{name: expression}`: every WebSocket client gets
   * them in one message (`evaluators.updated`, the snapshot's first part) under API Gateway's
   * 128 KiB frame, with room for the envelope.
   */
  evaluatorsTotalBytes: 96 * 1024,
} as const;
