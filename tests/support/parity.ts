import fc from "fast-check";

/** One evaluation's outcome, as both a local provider and OFREP report it. */
export interface Outcome {
  value: unknown;
  reason?: string;
  variant?: string;
  errorCode?: string;
}

export type FlagType = "boolean" | "string" | "number" | "object";

/**
 * Evaluates every flag under every context with `local` and `reference` and returns each
 * disagreement on value, reason, variant or error code (an absent side counts as undefined).
 */
export async function compareEvaluations(
  flags: ReadonlyArray<{ key: string; type: FlagType; defaultValue: unknown }>,
  contexts: ReadonlyArray<Record<string, unknown>>,
  local: (type: FlagType, key: string, defaultValue: unknown, context: Record<string, unknown>) => Promise<Outcome>,
  reference: (type: FlagType, key: string, defaultValue: unknown, context: Record<string, unknown>) => Promise<Outcome>,
): Promise<Array<{ key: string; context: Record<string, unknown>; local: Outcome; reference: Outcome }>> {
  const pick = ({ value, reason, variant, errorCode }: Outcome) => ({ value, reason, variant, errorCode });
  const mismatches = [];
  for (const context of contexts) {
    for (const { key, type, defaultValue } of flags) {
      const [mine, theirs] = await Promise.all([
        local(type, key, defaultValue, context),
        reference(type, key, defaultValue, context),
      ]);
      if (JSON.stringify(pick(mine)) !== JSON.stringify(pick(theirs))) {
        mismatches.push({ key, context, local: pick(mine), reference: pick(theirs) });
      }
    }
  }
  return mismatches;
}

/**
 * `count` evaluation contexts, the same every run (seeded), exercising what the evaluator kit's
 * rules read: targeting keys (fractional bucketing), emails, versions, locales, numbers, and
 * attributes of the wrong type or missing.
 */
export function sampleContexts(count: number, seed = 20261130): Record<string, unknown>[] {
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
  const context = fc.record(
    {
      targetingKey: maybe(fc.oneof(fc.uuid(), fc.string({ maxLength: 12 }))),
      email: maybe(
        fc.oneof(
          fc.constantFrom("ballmer@macrosoft.com", "bill@macrosoft.com", "someone@example.com", "test@faas.com"),
          fc.emailAddress(),
          fc.integer(),
        ),
      ),
      version: maybe(fc.oneof(fc.constantFrom("1.0.0", "2.1.0", "2.0.0-beta", "v1.2.3", "1.2", "x"), fc.integer())),
      locale: maybe(fc.constantFrom("us", "uk", "de", "fr")),
      age: maybe(fc.integer({ min: 0, max: 120 })),
      id: maybe(fc.oneof(fc.string({ maxLength: 12 }), fc.integer())),
      customer: maybe(fc.boolean()),
      user: maybe(fc.record({ id: fc.string({ maxLength: 8 }), tier: fc.constantFrom("gold", "silver") })),
    },
    { requiredKeys: [] },
  );
  return fc
    .sample(context, { numRuns: count, seed })
    .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));
}
