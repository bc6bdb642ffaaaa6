/**
 * `npm run bench -- evaluation-bounds` (issue 19): the slowest evaluation the evaluation bounds
 * let through, with the worst contexts OFREP accepts (64 KiB). For each family of expensive rules,
 * the largest member the bounds accept is evaluated with every hostile context; then arbitrary
 * rules (fast-check) likewise. Target: at most 1 ms.
 */
import fc from "fast-check";
import { BOUNDS, BoundsError, measureRule } from "../packages/openfeature-provider/src/evaluation";
import { arbitraryRule, atTheBound, costOf, FAMILIES, hostileContexts } from "../tests/support/evaluationBombs";
import { writeResult } from "./results";

const ms = (n: number) => `${n.toFixed(3)} ms`;

export async function evaluationBounds(): Promise<void> {
  const contexts = hostileContexts();
  const rows: Array<Record<string, unknown>> = [];
  let slowest = { ms: 0, where: "" };
  console.log(`\n## Evaluation bounds: slowest accepted evaluation, contexts of ${BOUNDS.contextBytes / 1024} KiB`);
  for (const family of FAMILIES) {
    const { accepted, refused } = atTheBound(family);
    if (accepted === 0) {
      console.log(`  ${family.name}: refused from n = 1`);
      rows.push({ family: family.name, accepted: 0 });
      continue;
    }
    const estimateMs = measureRule(family.rule(accepted), "flag").cost / 1e6;
    let worst = { ms: 0, context: "" };
    for (const { name, context } of contexts) {
      const measured = costOf(family.rule(accepted), context, 5);
      if (measured > worst.ms) worst = { ms: measured, context: name };
    }
    if (worst.ms > slowest.ms) slowest = { ms: worst.ms, where: `${family.name} (n = ${accepted}), ${worst.context}` };
    rows.push({ family: family.name, accepted, refused, estimateMs, measuredMs: worst.ms, context: worst.context });
    console.log(
      `  ${family.name}: n = ${accepted} accepted${refused === undefined ? "" : `, ${refused} refused`}; model ${ms(estimateMs)}, measured ${ms(worst.ms)} (${worst.context})`,
    );
  }
  let arbitrary = { ms: 0, rule: "" };
  let accepted = 0;
  fc.assert(
    fc.property(arbitraryRule(), (rule) => {
      try {
        measureRule(rule, "flag");
      } catch (error) {
        if (error instanceof BoundsError) return;
        throw error;
      }
      accepted++;
      for (const { context } of contexts) {
        const measured = costOf(rule, context, 3);
        if (measured > arbitrary.ms) arbitrary = { ms: measured, rule: JSON.stringify(rule).slice(0, 200) };
      }
    }),
    { numRuns: 600, seed: 19 },
  );
  console.log(`  arbitrary rules: ${accepted} of 600 accepted, slowest ${ms(arbitrary.ms)}: ${arbitrary.rule}`);
  const worstMs = Math.max(slowest.ms, arbitrary.ms);
  console.log(
    `  slowest accepted evaluation: ${ms(worstMs)} (target ≤ 1 ms) — ${slowest.ms >= arbitrary.ms ? slowest.where : "an arbitrary rule"}`,
  );
  writeResult("evaluation-bounds", {
    bounds: BOUNDS,
    families: rows,
    arbitrary: { runs: 600, accepted, ...arbitrary },
    worstMs,
  });
}
