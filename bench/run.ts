/**
 * `npm run bench`: prints the numbers the issues set targets for. Not a test: nothing here fails
 * on a slow machine; the closing notes quote what it printed.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { loadHandler, materialize } from "../tests/support/artifacts";
import { startFakeSsm } from "../tests/support/fakeSsm";
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
          API_TOKENS_PARAMETER: "/bench",
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

async function authorizerCost(): Promise<void> {
  console.log("\n## Authorizer (serialized artifact; tokens from a local SSM stand-in)");
  const parameter = "/bench/api-tokens";
  const resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
  const artifact = await materialize(
    resources.find((r) => r.name.endsWith("-dev-authorizer") && r.type === "aws:lambda/function:Function")!,
  );
  const ssm = await startFakeSsm(new Map([[parameter, JSON.stringify(toTokenRecords(TEST_TOKENS))]]));
  try {
    const authorize = loadHandler<object, unknown>(artifact, {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      API_TOKENS_PARAMETER: parameter,
    });
    const event = {
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:api/dev/GET/flags",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    };
    let started = performance.now();
    await authorize(event);
    const cold = performance.now() - started;
    const warm: number[] = [];
    for (let i = 0; i < 1000; i++) {
      started = performance.now();
      await authorize(event);
      warm.push(performance.now() - started);
    }
    console.log(`first invocation (reads the tokens parameter): ${cold.toFixed(1)} ms (plus SSM's own latency on AWS)`);
    console.log(
      `warm invocation (parameter cached 60 s): p50 ${percentile(warm, 50).toFixed(3)} ms  p99 ${percentile(warm, 99).toFixed(3)} ms`,
    );
    const records = toTokenRecords(
      Array.from({ length: 100 }, (_, i) => ({ id: `t${i}`, token: `token-${i}-${"x".repeat(24)}`, scopes: ["read"] })),
    );
    started = performance.now();
    for (let i = 0; i < 10_000; i++) verifyToken(`token-99-${"x".repeat(24)}`, records);
    console.log(`verifyToken against 100 records: ${((performance.now() - started) / 10_000).toFixed(4)} ms`);
    console.log("API Gateway cache hit (same Authorization header within 30 s): the authorizer is not invoked at all");
  } finally {
    await ssm.stop();
  }
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
  await archives();
  await authorizerCost();
  await restLatency();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
