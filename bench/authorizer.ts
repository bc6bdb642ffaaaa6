/**
 * `npm run bench -- authorizer`: the deployed authorizer's serialized code against a tokens table
 * of 1,000 tokens in DynamoDB Local: its cold path (fresh module, factory, first verification:
 * one GetItem), warm verifications of a cached token and of tokens it has not seen (a GetItem
 * each), and what the single-parameter design it replaced spent per request at 1,000 tokens.
 */
import { performance } from "node:perf_hooks";
import { hashToken, toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { localDynamoClient } from "../local/dynamodb";
import { startDynamoDbLocal } from "../local/supervisor";
import { materialize } from "../tests/support/artifacts";
import { runProgram } from "../tests/support/pulumiMocks";
import { createTokensTable } from "../tests/support/tokenTable";
import { TEST_TOKENS } from "../tests/support/tokens";
import { writeResult } from "./results";
import { percentile } from "./stats";

const TOKENS = 1000;

type Authorize = (event: object) => Promise<{ principalId: string }>;

export async function authorizerCost(): Promise<void> {
  console.log(`\n## Authorizer cold path (serialized artifact; ${TOKENS} tokens in a DynamoDB Local table)`);
  const resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
  const artifact = await materialize(
    resources.find((r) => r.name.endsWith("-dev-authorizer") && r.type === "aws:lambda/function:Function")!,
  );
  const configs = Array.from({ length: TOKENS }, (_, i) => ({
    id: `token-${String(i).padStart(4, "0")}`,
    token: `bench-token-${String(i).padStart(4, "0")}-${"x".repeat(24)}`,
    scopes: [i % 3 === 0 ? "read" : "evaluate"] as ["read" | "evaluate"],
  }));
  const records = toTokenRecords(configs);
  const dynamo = await startDynamoDbLocal();
  const client = localDynamoClient(dynamo.endpoint);
  try {
    const tableName = "bench-tokens";
    const filling = performance.now();
    await createTokensTable(client, tableName, records);
    console.log(`table filled with ${TOKENS} items (BatchWriteItem): ${(performance.now() - filling).toFixed(0)} ms`);
    Object.assign(process.env, {
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      TOKENS_TABLE_NAME: tableName,
    });
    // Lambda's cold start: the bundle loaded afresh, its factory run, then the first request.
    const load = (): Authorize => {
      delete require.cache[artifact.indexPath];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle loaded afresh, as Lambda does
      return require(artifact.indexPath).handler as Authorize;
    };
    const event = (i: number) => ({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:api/dev/GET/flags",
      headers: { Authorization: `Bearer ${configs[i].token}` },
    });
    const loads: number[] = [];
    const firsts: number[] = [];
    for (let round = 0; round < 20; round++) {
      let started = performance.now();
      const authorize = load();
      loads.push(performance.now() - started);
      started = performance.now();
      const result = await authorize(event((round * 37) % TOKENS));
      firsts.push(performance.now() - started);
      if (result.principalId !== configs[(round * 37) % TOKENS].id) throw new Error("the first verification failed");
    }
    const authorize = load();
    await authorize(event(0));
    const cached: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      await authorize(event(0));
      cached.push(performance.now() - started);
    }
    const uncached: number[] = [];
    for (let i = 1; i < TOKENS; i++) {
      const started = performance.now();
      await authorize(event(i));
      uncached.push(performance.now() - started);
    }
    // What the replaced design did per request: a linear constant-time scan of every record
    // (its parameter could not hold 1,000 records; this is the cost had it done so).
    let started = performance.now();
    for (let i = 0; i < 1000; i++) verifyToken(configs[TOKENS - 1].token, records);
    const scan = (performance.now() - started) / 1000;
    started = performance.now();
    for (let i = 0; i < 1000; i++) hashToken(configs[TOKENS - 1].token);
    const hash = (performance.now() - started) / 1000;
    const figures = {
      tokens: TOKENS,
      moduleLoadMs: { p50: percentile(loads, 50), max: Math.max(...loads) },
      firstVerificationMs: { p50: percentile(firsts, 50), max: Math.max(...firsts) },
      warmCachedMs: { p50: percentile(cached, 50), p99: percentile(cached, 99) },
      warmGetItemMs: { p50: percentile(uncached, 50), p99: percentile(uncached, 99) },
      scanOf1000RecordsMs: scan,
      hashMs: hash,
    };
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    console.log(
      `cold: module load + factory p50 ${ms(figures.moduleLoadMs.p50)}; first verification (client, credentials, one GetItem) p50 ${ms(figures.firstVerificationMs.p50)}, max ${ms(figures.firstVerificationMs.max)} (20 cold starts)`,
    );
    console.log(`warm, token cached (60 s): p50 ${ms(figures.warmCachedMs.p50)}  p99 ${ms(figures.warmCachedMs.p99)}`);
    console.log(
      `warm, token not seen yet (one GetItem): p50 ${ms(figures.warmGetItemMs.p50)}  p99 ${ms(figures.warmGetItemMs.p99)} (${TOKENS - 1} tokens)`,
    );
    console.log(
      `replaced design, per request: constant-time scan of ${TOKENS} records ${ms(scan)}; one SHA-256 ${ms(hash)}`,
    );
    console.log("API Gateway cache hit (same Authorization header within 30 s): the authorizer is not invoked at all");
    writeResult("authorizer", figures);
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}
