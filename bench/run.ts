/**
 * `npm run bench`: prints the numbers the issues set targets for. Not a test: nothing here fails
 * on a slow machine; the closing notes quote what it printed. Each section lives in its own file.
 */
import { archives } from "./archives";
import { auditDelay } from "./audit";
import { authorizerCost } from "./authorizer";
import { consoleBench } from "./console";
import { costTable } from "./cost";
import { evaluationBounds } from "./evaluationBounds";
import { eventStreams } from "./eventStreams";
import { fanout } from "./fanout";
import { loadSection } from "./load";
import { ofrepBench } from "./ofrep";
import { propagation } from "./propagation";
import { providerChangeCost, providerChangeLatency, providerEvaluation } from "./provider";
import { reliability } from "./reliability";
import { restLatency } from "./rest";
import { fanoutScaleOut } from "./scaleout";

/** Every section, in the order `npm run bench` runs them. */
const SECTIONS: Record<string, () => Promise<void>> = {
  archives,
  authorizer: authorizerCost,
  rest: restLatency,
  load: loadSection,
  ofrep: async () => {
    await ofrepBench();
  },
  "evaluation-bounds": evaluationBounds,
  propagation,
  "event-streams": eventStreams,
  audit: auditDelay,
  fanout,
  // Not `fanout-…`: `npm run bench -- fanout` stays the 1,000-connection figure alone.
  scaleout: fanoutScaleOut,
  reliability,
  "provider-evaluation": providerEvaluation,
  "provider-change-cost": providerChangeCost,
  "provider-change-latency": providerChangeLatency,
  console: consoleBench,
  cost: costTable,
};

/** `npm run bench` runs every section; `npm run bench -- archives provider` runs those only. */
async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
  const asked = process.argv.slice(2);
  // A word names a section, or a family of them (`provider` runs every `provider-…` section).
  const selects = (word: string, name: string) => name === word || name.startsWith(`${word}-`);
  const unknown = asked.filter((word) => !Object.keys(SECTIONS).some((name) => selects(word, name)));
  if (unknown.length > 0)
    throw new Error(`unknown section ${unknown.join(", ")}; sections: ${Object.keys(SECTIONS).join(", ")}`);
  for (const [name, run] of Object.entries(SECTIONS)) {
    if (asked.length === 0 || asked.some((word) => selects(word, name))) await run();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
