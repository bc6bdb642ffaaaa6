/**
 * OFREP numbers for `npm run bench` (issue 10, item 8): latency on the local runtime, single and
 * bulk over 100 flags, the evaluation's own cost, and how soon a REST change is visible.
 */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { evaluateBulk, evaluateSingle } from "../handlers/ofrep/evaluate";
import { compileFlagSet } from "../handlers/ofrep/flagSet";
import type { FlagItem } from "../handlers/flags/model";
import { startService } from "../local/service";
import { writeResult } from "./results";
import { percentile, sequentialLatencies } from "./stats";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../tests/support/tokens";

/** 100 flags of the kinds users write: plain, attribute rule, 10 % rollout, shared evaluator. */
function benchFlags(): Array<Record<string, unknown>> {
  return Array.from({ length: 100 }, (_, i) => {
    const flagName = `bench-${String(i).padStart(3, "0")}`;
    switch (i % 4) {
      case 0:
        return { flagName, value: i % 8 === 0 };
      case 1:
        return {
          flagName,
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: { if: [{ in: [{ var: "country" }, ["DE", "FR", "NL"]] }, "on", "off"] },
        };
      case 2:
        return {
          flagName,
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: {
            fractional: [
              ["on", 10],
              ["off", 90],
            ],
          },
        };
      default:
        return {
          flagName,
          variants: { beta: "beta", stable: "stable" },
          defaultVariant: "stable",
          targeting: { if: [{ $ref: "beta-testers" }, "beta", "stable"] },
          metadata: { team: "web" },
        };
    }
  });
}

const CONTEXT = { targetingKey: "user-42", country: "DE", email: "someone@example.com" };

export async function ofrepBench(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  console.log("\n## OFREP on the local runtime (100 flags)");
  // The limiter off: this measures evaluation, from one address, far above a browser's rate.
  const service = await startService({
    port: 0,
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    ofrepRateLimit: 0,
  });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const reader = client(service.url, READ_TOKEN);
    await api("PUT", "/evaluators/beta-testers", {
      body: { expression: { ends_with: [{ var: "email" }, "@example.com"] } },
    });
    for (const body of benchFlags()) {
      const created = await api("POST", "/flags", { body });
      if (created.status !== 201) throw new Error(`${String(body.flagName)}: ${JSON.stringify(created.body)}`);
    }

    const measure = async (
      label: string,
      n: number,
      request: (i: number) => Promise<{ status: number }>,
      ok: number,
    ) => {
      const samples = await sequentialLatencies(label, n, request, ok);
      const p50 = percentile(samples, 50);
      const p99 = percentile(samples, 99);
      console.log(`${label.padEnd(40)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  (${n} sequential)`);
      results[label] = { p50Ms: Number(p50.toFixed(2)), p99Ms: Number(p99.toFixed(2)), n };
    };
    const single = (i: number) =>
      reader("POST", `/ofrep/v1/evaluate/flags/bench-${String(i % 100).padStart(3, "0")}`, {
        body: { context: { ...CONTEXT, targetingKey: `user-${i}` } },
      });
    await measure("single POST /ofrep/v1/evaluate/flags/{key}", 1000, single, 200);
    await measure(
      "bulk POST /ofrep/v1/evaluate/flags",
      300,
      () => reader("POST", "/ofrep/v1/evaluate/flags", { body: { context: CONTEXT } }),
      200,
    );
    const etag = (await reader("POST", "/ofrep/v1/evaluate/flags", { body: { context: CONTEXT } })).headers.get(
      "etag",
    ) as string;
    await measure(
      "bulk with matching If-None-Match (304)",
      300,
      () =>
        reader("POST", "/ofrep/v1/evaluate/flags", { body: { context: CONTEXT }, headers: { "If-None-Match": etag } }),
      304,
    );

    // Throughput with 10 connections (autocannon), single evaluations.
    const cannon = await autocannon({
      url: `${service.url}/ofrep/v1/evaluate/flags/bench-002`,
      method: "POST",
      connections: 10,
      duration: 5,
      headers: { Authorization: `Bearer ${READ_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ context: CONTEXT }),
    });
    console.log(
      `single, 10 connections for 5 s (autocannon)  ${cannon.requests.average.toFixed(0)} req/s  ` +
        `p50 ${cannon.latency.p50} ms  p99 ${cannon.latency.p99} ms  non-2xx ${cannon.non2xx}`,
    );
    results["single, 10 connections (autocannon)"] = {
      requestsPerSecond: Math.round(cannon.requests.average),
      p50Ms: cannon.latency.p50,
      p99Ms: cannon.latency.p99,
      non2xx: cannon.non2xx,
    };

    // Freshness: a PUT's response to the first OFREP answer that shows it.
    const delays: number[] = [];
    for (let i = 0; i < 40; i++) {
      const value = `v${i}`;
      await api("PUT", "/flags/bench-000", { body: { value } });
      const started = performance.now();
      for (;;) {
        const result = await reader("POST", "/ofrep/v1/evaluate/flags/bench-000", { body: { context: {} } });
        if (result.body?.value === value) break;
      }
      delays.push(performance.now() - started);
    }
    const fresh = {
      p50Ms: Number(percentile(delays, 50).toFixed(1)),
      p99Ms: Number(percentile(delays, 99).toFixed(1)),
      maxMs: Number(Math.max(...delays).toFixed(1)),
    };
    console.log(
      `REST change → visible over OFREP            p50 ${fresh.p50Ms} ms  p99 ${fresh.p99Ms} ms  max ${fresh.maxMs} ms (40 changes)`,
    );
    results["change visible over OFREP"] = fresh;
  } finally {
    await service.stop();
  }

  // The evaluation's own cost, without HTTP or DynamoDB: flagd-core on the compiled set.
  const at = new Date().toISOString();
  const items: FlagItem[] = benchFlags().map((flag) => {
    const { flagName, value, ...definition } = flag as { flagName: string; value?: unknown };
    const refs =
      Object.keys(definition).length > 0 && "targeting" in definition && JSON.stringify(definition).includes("$ref")
        ? ["beta-testers"]
        : [];
    return {
      flagName,
      ...(value === undefined ? {} : { valueJson: JSON.stringify(value) }),
      ...(Object.keys(definition).length === 0 ? {} : { definitionJson: JSON.stringify(definition) }),
      refs,
      version: 1,
      createdAt: at,
      updatedAt: at,
      createdBy: null,
      updatedBy: null,
    };
  });
  const evaluators = { "beta-testers": { ends_with: [{ var: "email" }, "@example.com"] } };
  let started = performance.now();
  const set = compileFlagSet(1, items, evaluators);
  const compileMs = performance.now() - started;
  const rounds = 100_000;
  started = performance.now();
  for (let i = 0; i < rounds; i++)
    evaluateSingle(set, items[i % 100].flagName, { ...CONTEXT, targetingKey: `user-${i}` });
  const singleUs = ((performance.now() - started) * 1000) / rounds;
  started = performance.now();
  for (let i = 0; i < 1000; i++) evaluateBulk(set, { ...CONTEXT, targetingKey: `user-${i}` });
  const bulkUs = ((performance.now() - started) * 1000) / 1000;
  console.log(
    `evaluation cost (flagd-core, in process)    single ${singleUs.toFixed(2)} µs, bulk of 100 ${bulkUs.toFixed(0)} µs, ` +
      `compiling 100 flags ${compileMs.toFixed(1)} ms (once per change per container)`,
  );
  results["evaluation cost"] = {
    singleMicros: Number(singleUs.toFixed(2)),
    bulk100Micros: Math.round(bulkUs),
    compile100Ms: Number(compileMs.toFixed(1)),
  };

  writeResult("ofrep", results);
  return results;
}

if (require.main === module) {
  process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
  ofrepBench().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
