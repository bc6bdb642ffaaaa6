/**
 * `{"$ref": name}` replaced by the evaluator's expression, on parsed data (flagd's `$evaluators`).
 * flagd-core substitutes references in the configuration's JSON text with `String.replaceAll`,
 * where `$$`, `$&`, `` $` `` and `$'` in an evaluator are replacement patterns: `"$$pro"` would
 * match `"$pro"`, and `$'` copies the rest of the configuration once per reference. Here every
 * string of an evaluator means exactly itself. The result is a fresh tree (nothing shared with the
 * inputs), so the engine that builds it may keep or change it freely.
 *
 * Callers bound the rule first (`measureRule`): expansion is then bounded too.
 */
export function expandRefs(rule: unknown, evaluators: Readonly<Record<string, unknown>>): unknown {
  const copy = (node: unknown, inEvaluator: boolean): unknown => {
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) return node.map((item) => copy(item, inEvaluator));
    const keys = Object.keys(node);
    if (keys.length === 1 && keys[0] === "$ref" && !inEvaluator) {
      const name = (node as { $ref: unknown }).$ref;
      if (typeof name !== "string" || !Object.hasOwn(evaluators, name)) {
        throw new Error(`evaluator '${String(name)}' does not exist`);
      }
      return copy(evaluators[name], true);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      // defineProperty: a key named __proto__ stays an own key, as JSON.parse made it.
      Object.defineProperty(out, key, {
        value: copy((node as Record<string, unknown>)[key], inEvaluator),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return copy(rule, false);
}
