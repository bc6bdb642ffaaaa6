/**
 * `npm run bench`: prints the numbers the issues set targets for. Not a test: nothing here fails
 * on a slow machine; the closing notes quote what it printed.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { materialize } from "../tests/support/artifacts";
import { client } from "../tests/support/http";
import { runProgram } from "../tests/support/pulumiMocks";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function archives(): Promise<void> {
  console.log("## Lambda code archives (serialized by Pulumi under mocks)");
  const resources = await runProgram();
  for (const fn of resources.filter((r) => r.type === "aws:lambda/function:Function")) {
    const artifact = await materialize(fn);
    // A fresh process, as at a cold start: the time to require __index.js and build its clients.
    const script = `const t = performance.now(); require(${JSON.stringify(artifact.indexPath)}); console.log(performance.now() - t);`;
    const initMs = Number(
      execFileSync(process.execPath, ["-e", script], {
        encoding: "utf8",
        env: {
          ...process.env,
          FLAGS_TABLE_NAME: "bench",
          ALLOW_FLAG_DELETION_PARAMETER: "/bench",
          AWS_REGION: "local",
        },
        stdio: ["ignore", "pipe", "ignore"],
      }),
    );
    console.log(
      `${fn.name.padEnd(28)} ${kib(artifact.bytes).padStart(9)} unpacked, ${kib(artifact.deflatedBytes).padStart(8)} deflated, ` +
        `cold init ${initMs.toFixed(0)} ms; ${artifact.entries.filter((e) => e !== "__index.js").join(", ")}`,
    );
  }
}

async function restLatency(): Promise<void> {
  const n = 300;
  console.log(`\n## REST latency on the local runtime (${n} sequential requests each, one client)`);
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const measure = async (label: string, request: (i: number) => Promise<{ status: number }>, ok: number) => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        const result = await request(i);
        samples.push(performance.now() - started);
        if (result.status !== ok) throw new Error(`${label}: ${result.status}`);
      }
      console.log(
        `${label.padEnd(24)} p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms`,
      );
    };
    await measure("POST /flags", (i) => api("POST", "/flags", { body: { flagName: `bench-${i}`, value: i } }), 201);
    await measure("GET /flags/{flagName}", (i) => api("GET", `/flags/bench-${i}`), 200);
    await measure("PUT /flags/{flagName}", (i) => api("PUT", `/flags/bench-${i}`, { body: { value: -i } }), 200);
    await measure("GET /flags?limit=100", () => api("GET", "/flags?limit=100"), 200);
    await measure("DELETE /flags/{flagName}", (i) => api("DELETE", `/flags/bench-${i}`), 204);
  } finally {
    await service.stop();
  }
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
  await archives();
  await restLatency();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
