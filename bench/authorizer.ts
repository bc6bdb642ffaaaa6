/**
 * `npm run bench -- authorizer`: the deployed authorizer's serialized code, first and warm
 * invocations, with its tokens parameter served by a local SSM stand-in.
 */
import { performance } from "node:perf_hooks";
import { toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { loadHandler, materialize } from "../tests/support/artifacts";
import { startFakeSsm } from "../tests/support/fakeSsm";
import { runProgram } from "../tests/support/pulumiMocks";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { percentile } from "./stats";

export async function authorizerCost(): Promise<void> {
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
