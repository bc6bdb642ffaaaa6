/**
 * `npm run bench`: prints the numbers the issues set targets for. Not a test: nothing here fails
 * on a slow machine; the closing notes quote what it printed.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { reliability } from "./reliability";
import { toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { loadHandler, materialize } from "../tests/support/artifacts";
import { startFakeSsm } from "../tests/support/fakeSsm";
import { client } from "../tests/support/http";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { BatchWriteCommand, type BatchWriteCommandOutput, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeConnectionStore } from "../handlers/realtime/connections";
import { makeBroadcast } from "../handlers/realtime/handlers";
import { type FanoutWorkerEvent, makeFanOut } from "../handlers/realtime/scaleout";
import { makePoster, settleBounded } from "../handlers/realtime/push";
import { makeSignedPoster } from "../handlers/realtime/signedPoster";
import { FANOUT_CONCURRENCY } from "../handlers/realtime/table";
import { localDynamoClient, startDynamoDbLocal } from "../local/dynamodb";
import { ensureConnectionsTable } from "../local/tables";
import { runProgram } from "../tests/support/pulumiMocks";
import { archiveTable } from "./archives";
import { loadAndWork, ON_DEMAND_USD_PER_MILLION } from "./load";
import { writeResult } from "./results";
import { connect } from "../tests/support/wsClient";
import WebSocket, { WebSocketServer } from "ws";
import { FlagSet } from "../packages/openfeature-provider/src/flagSet";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { ofrepBench } from "./ofrep";
import { evaluationBounds } from "./evaluationBounds";
import { percentile, sequentialLatencies } from "./stats";
import { FeatureFlagsProvider, FeatureFlagsWebProvider } from "@feature-flags/openfeature-provider";
import { OpenFeature, ProviderEvents } from "@openfeature/server-sdk";

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

async function archives(): Promise<void> {
  const runs = 10;
  console.log(`## Lambda code: bundled (deployed) vs CallbackFunction default packaging; cold init median of ${runs}`);
  const rows = await archiveTable(runs);
  console.log(
    `${"function".padEnd(32)} ${"unpacked".padStart(10)} ${"default".padStart(10)} ${"ratio".padStart(6)}  ${"init ms".padStart(8)} ${"default".padStart(8)} ${"ratio".padStart(6)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.function.padEnd(32)} ${kib(row.bundledBytes).padStart(10)} ${kib(row.defaultBytes).padStart(10)} ${(row.bundledBytes / row.defaultBytes).toFixed(3).padStart(6)}  ` +
        `${row.bundledInitMs.toFixed(1).padStart(8)} ${row.defaultInitMs.toFixed(1).padStart(8)} ${(row.bundledInitMs / row.defaultInitMs).toFixed(2).padStart(6)}`,
    );
  }
  const largest = Math.max(...rows.map((r) => r.bundledBytes));
  const slowest = Math.max(...rows.map((r) => r.bundledInitMs));
  const worstRatio = Math.max(...rows.map((r) => r.bundledInitMs / r.defaultInitMs));
  console.log(
    `targets: largest ${kib(largest)} (≤ 1024 KiB), slowest init ${slowest.toFixed(1)} ms (≤ 100 ms), worst init ratio ${worstRatio.toFixed(2)} (≤ 0.5)`,
  );
  writeResult("archives", { runs, rows, largestBytes: largest, slowestInitMs: slowest, worstInitRatio: worstRatio });
}

async function restLatency(): Promise<void> {
  const n = 300;
  console.log(`\n## REST latency on the local runtime (${n} sequential requests each, one client)`);
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const measure = async (label: string, request: (i: number) => Promise<{ status: number }>, ok: number) => {
      const samples = await sequentialLatencies(label, n, request, ok);
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

async function propagation(): Promise<void> {
  const changes = 250;
  console.log(
    `\n## Propagation on the local runtime: PUT response → message at a WebSocket client (${changes} changes)`,
  );
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "bench-live", value: 0 } });
    const ws = await connect(`${service.websocketUrl}?token=${READ_TOKEN}`);
    await ws.waitFor((m) => m.type === "snapshot");
    const samples: number[] = [];
    for (let version = 2; version <= changes + 1; version++) {
      const result = await api("PUT", "/flags/bench-live", { body: { value: version } });
      const responded = performance.now();
      if (result.status !== 200) throw new Error(`PUT: ${result.status}`);
      await ws.waitFor((m) => m.type === "flag.updated" && m.flag.version === version, 10_000);
      samples.push(performance.now() - responded);
    }
    await ws.close();
    console.log(
      `p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms  max ${Math.max(...samples).toFixed(1)} ms  (target: p50 < 250 ms)`,
    );
  } finally {
    await service.stop();
  }
}

/** The Management API stand-in in its own process, so it does not take the fan-out's CPU. */
async function managementApiProcess(delayMs: number): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "bench/managementApiProcess.ts", String(delayMs)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once("exit", (code) => reject(new Error(`management API stand-in exited with ${code}`)));
  });
  return {
    endpoint,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

/** Connection rows `conn-0` … in a fresh connections table, written 25 at a time, 8 requests in flight. */
async function fillConnections(doc: DynamoDBDocumentClient, tableName: string, count: number): Promise<void> {
  const batches = Array.from({ length: Math.ceil(count / 25) }, (_, b) =>
    Array.from({ length: Math.min(25, count - b * 25) }, (_, j) => ({
      PutRequest: { Item: { connectionId: `conn-${b * 25 + j}` } },
    })),
  );
  await settleBounded(batches, 8, async (rows) => {
    let pending: unknown[] | undefined = rows;
    while (pending !== undefined && pending.length > 0) {
      const result: BatchWriteCommandOutput = await doc.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }),
      );
      pending = result.UnprocessedItems?.[tableName];
    }
  });
}

const silentLogger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The product's poster (handlers/entrypoints.ts): SigV4-signed posts over a keep-alive agent.
 * `BENCH_FANOUT_POSTER=sdk` measures the AWS SDK client instead, for comparison.
 */
function benchPoster(endpoint: string) {
  const credentials = { accessKeyId: "bench", secretAccessKey: "bench", sessionToken: "bench" };
  if (process.env.BENCH_FANOUT_POSTER === "sdk") {
    return makePoster(
      new ApiGatewayManagementApiClient({
        endpoint,
        region: "local",
        credentials,
        requestHandler: { httpAgent: { maxSockets: FANOUT_CONCURRENCY, keepAlive: true } },
      }),
    );
  }
  return makeSignedPoster({ endpoint, region: "local", credentials, maxSockets: FANOUT_CONCURRENCY });
}

async function fanout(): Promise<void> {
  const connections = 1000;
  const delayMs = 20;
  console.log(
    `\n## Fan-out to ${connections} connections, each post taking ${delayMs} ms (local Management API stand-in)`,
  );
  const dynamo = await startDynamoDbLocal();
  const management = await managementApiProcess(delayMs);
  const dynamoClient = localDynamoClient(dynamo.endpoint);
  try {
    await ensureConnectionsTable(dynamoClient, "bench-connections");
    const doc = DynamoDBDocumentClient.from(dynamoClient);
    await fillConnections(doc, "bench-connections", connections);
    const store = makeConnectionStore({ doc, tableName: "bench-connections" });
    const post = benchPoster(management.endpoint);
    const message = { type: "flag.deleted", flagName: "x", version: 1 } as const;
    const time = async (concurrency: number) => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const result = await makeBroadcast({ connections: store, post, logger: silentLogger, concurrency })(message);
      if (result.sent !== connections) throw new Error(`sent ${result.sent}`);
      const used = process.cpuUsage(cpu);
      return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
    };
    const scanStarted = performance.now();
    for await (const page of store.pages()) if (page.length === 0) break;
    const scanMs = performance.now() - scanStarted;
    await time(FANOUT_CONCURRENCY); // warm the connection pool, as a warm Lambda has it
    const parallel = await time(FANOUT_CONCURRENCY);
    const sequential = await time(1);
    const ratio = sequential.ms / parallel.ms;
    const cpuPerPostMs = parallel.cpuMs / connections;
    const waitMs = (connections / FANOUT_CONCURRENCY) * delayMs;
    console.log(`parallel (${FANOUT_CONCURRENCY} in flight, warm): ${parallel.ms.toFixed(0)} ms`);
    console.log(`sequential (one at a time, as the AWS sample does): ${sequential.ms.toFixed(0)} ms`);
    console.log(`speed-up: ${ratio.toFixed(1)}× (target: ≥ 40×)`);
    console.log(
      `where the parallel time goes: scan of the ${connections} rows ${scanMs.toFixed(0)} ms; waiting on posts ≥ ${waitMs} ms; ` +
        `CPU ${parallel.cpuMs.toFixed(0)} ms (${cpuPerPostMs.toFixed(2)} ms per post); load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
    );
    writeResult("fanout", {
      connections,
      postDelayMs: delayMs,
      concurrency: FANOUT_CONCURRENCY,
      parallelMs: parallel.ms,
      sequentialMs: sequential.ms,
      ratio,
      target: 40,
      scanMs,
      parallelCpuMs: parallel.cpuMs,
      cpuPerPostMs,
    });
  } finally {
    dynamoClient.destroy();
    await management.stop();
    await dynamo.stop();
  }
}

/** One worker invocation in its own process (bench/fanoutWorkerProcess.ts), as Lambda would run it. */
function workerProcess(dynamoEndpoint: string, tableName: string, managementEndpoint: string) {
  return (event: FanoutWorkerEvent) =>
    new Promise<{ sent: number; gone: number; ms: number }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          "-r",
          "ts-node/register/transpile-only",
          "bench/fanoutWorkerProcess.ts",
          dynamoEndpoint,
          tableName,
          managementEndpoint,
        ],
        {
          stdio: ["pipe", "pipe", "inherit"],
          env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: "1" },
        },
      );
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("exit", (code) =>
        code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`worker exited with ${code}`)),
      );
      child.stdin.end(JSON.stringify(event));
    });
}

async function fanoutScaleOut(): Promise<void> {
  const connections = Number(process.env.BENCH_SCALEOUT_CONNECTIONS ?? 20_000);
  const workers = Number(process.env.BENCH_SCALEOUT_WORKERS ?? 4);
  const delayMs = 20;
  console.log(
    `\n## Fan-out scaled out: ${connections} connections, each post taking ${delayMs} ms — one invocation vs ${workers} worker processes`,
  );
  const dynamo = await startDynamoDbLocal();
  const management = await managementApiProcess(delayMs);
  const dynamoClient = localDynamoClient(dynamo.endpoint);
  const tableName = "bench-scaleout-connections";
  try {
    await ensureConnectionsTable(dynamoClient, tableName);
    const doc = DynamoDBDocumentClient.from(dynamoClient);
    await fillConnections(doc, tableName, connections);
    const store = makeConnectionStore({ doc, tableName });
    const post = benchPoster(management.endpoint);
    const message = { type: "flag.deleted", flagName: "x", version: 1 } as const;

    // One invocation, as before scale-out: every page of connections, 100 posts in flight.
    await makeBroadcast({ connections: store, post, logger: silentLogger })(message); // warm
    const oneStarted = performance.now();
    const one = await makeBroadcast({ connections: store, post, logger: silentLogger })(message);
    const oneMs = performance.now() - oneStarted;
    if (one.sent !== connections) throw new Error(`one invocation sent ${one.sent}`);

    // Scaled out: the product's consumer logic plans the segments and starts one process per event.
    const runWorker = workerProcess(dynamo.endpoint, tableName, management.endpoint);
    const results: Array<{ sent: number; gone: number; ms: number }> = [];
    const fanOut = makeFanOut({
      connections: store,
      post,
      logger: silentLogger,
      limits: { postsPerInvocation: Math.ceil(connections / workers), maxWorkers: workers },
      invokeWorker: async (event) => {
        results.push(await runWorker(event));
      },
    });
    const scaledStarted = performance.now();
    const dispatched = await fanOut([message]);
    const scaledMs = performance.now() - scaledStarted;
    const sent = results.reduce((sum, r) => sum + r.sent, 0);
    if (sent !== connections) throw new Error(`workers sent ${sent} of ${connections}`);
    const slowestWorkerMs = Math.max(...results.map((r) => r.ms));
    console.log(`one invocation: ${oneMs.toFixed(0)} ms`);
    console.log(
      `${dispatched.workers} workers: ${scaledMs.toFixed(0)} ms end to end (` +
        `slowest worker's own time ${slowestWorkerMs.toFixed(0)} ms; the rest is each process's start, Lambda's cold start here)`,
    );
    console.log(
      `speed-up: ${(oneMs / scaledMs).toFixed(1)}× end to end, ${(oneMs / slowestWorkerMs).toFixed(1)}× on the workers' own time ` +
        `(${os.cpus().length} CPUs shared by everything here, load average ${os.loadavg()[0].toFixed(1)}; on Lambda each worker has its own vCPU)`,
    );
    writeResult("scaleout", {
      connections,
      postDelayMs: delayMs,
      workers: dispatched.workers,
      oneInvocationMs: oneMs,
      scaledOutMs: scaledMs,
      slowestWorkerMs,
      perWorker: results,
      speedUp: oneMs / scaledMs,
    });
  } finally {
    dynamoClient.destroy();
    await management.stop();
    await dynamo.stop();
  }
}

async function auditDelay(): Promise<void> {
  const changes = 100;
  console.log(
    `\n## Audit delay on the local runtime: change's response → its line in the .ndjson file (${changes} changes)`,
  );
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-bench-audit-"));
  const service = await startService({
    port: 0,
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    auditDataDir: dataDir,
  });
  const countLines = () =>
    fs
      .readdirSync(path.join(dataDir, "audit"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ndjson"))
      .reduce((n, file) => n + fs.readFileSync(path.join(dataDir, "audit", file), "utf8").split("\n").length - 1, 0);
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const samples: number[] = [];
    for (let i = 0; i < changes; i++) {
      const result = await api("POST", "/flags", { body: { flagName: `audit-${i}`, value: i } });
      const responded = performance.now();
      if (result.status !== 201) throw new Error(`POST: ${result.status}`);
      while (!fs.existsSync(path.join(dataDir, "audit")) || countLines() < i + 1) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      samples.push(performance.now() - responded);
    }
    console.log(`p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms`);
    console.log("(on AWS, Firehose buffers: a line lands in S3 within about 60 s of the change)");
  } finally {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function providerEvaluation(): Promise<void> {
  console.log("\n## OpenFeature provider: local evaluation cost (flagd-core, flags held in memory)");
  // Rich flags (fractional rules) cannot be created over REST until flag evaluation lands, so a
  // stand-in server sends them as the contract's snapshot.
  const flags = [
    { flagName: "static", version: 1, value: true },
    {
      flagName: "fractional",
      version: 1,
      variants: { red: "red", blue: "blue", green: "green" },
      defaultVariant: "red",
      targeting: { fractional: [{ var: "targetingKey" }, ["red", 50], ["blue", 30], ["green", 20]] },
    },
  ];
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (socket) =>
    socket.send(JSON.stringify({ type: "snapshot", part: 1, parts: 1, evaluators: {}, flags })),
  );
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`;
  const provider = new FeatureFlagsWebProvider({ url, token: "bench", WebSocket: WebSocket as never });
  await provider.initialize();
  try {
    const contexts = Array.from({ length: 1000 }, (_, i) => ({ targetingKey: `user-${i}`, plan: "pro" }));
    const measure = (label: string, evaluate: (i: number) => unknown) => {
      const batch = 1000;
      const perEval: number[] = [];
      for (let round = 0; round < 300; round++) {
        const started = process.hrtime.bigint();
        for (let i = 0; i < batch; i++) evaluate(i);
        perEval.push(Number(process.hrtime.bigint() - started) / batch);
      }
      console.log(
        `${label.padEnd(44)} p50 ${percentile(perEval, 50).toFixed(0)} ns/eval  p99 ${percentile(perEval, 99).toFixed(0)} ns/eval  (target: p50 < 5,000 ns)`,
      );
    };
    if (provider.resolveStringEvaluation("fractional", "x", contexts[0]).reason !== "TARGETING_MATCH") {
      throw new Error("the fractional rule did not match");
    }
    measure("static flag (reason STATIC)", (i) => provider.resolveBooleanEvaluation("static", false, contexts[i]));
    measure("fractional rule, 1,000 targeting keys", (i) =>
      provider.resolveStringEvaluation("fractional", "x", contexts[i]),
    );
  } finally {
    await provider.onClose();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function providerChangeCost(): Promise<void> {
  console.log("\n## OpenFeature provider: CPU to take in a snapshot and one change, by flag-set size");
  const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
  for (const count of [100, 1000, 5000]) {
    const flagSet = new FlagSet(quiet);
    const flags = Array.from({ length: count }, (_, i) => ({
      flagName: `f${i}`,
      version: 1,
      value: { n: i, pad: "x".repeat(500) },
    }));
    let started = performance.now();
    flagSet.replace(flags, {});
    const first = performance.now() - started;
    started = performance.now();
    flagSet.replace(flags, {});
    const again = performance.now() - started;
    const samples: number[] = [];
    for (let version = 2; version < 102; version++) {
      started = performance.now();
      flagSet.apply({ type: "flag.updated", flag: { flagName: "f1", version, value: version } });
      samples.push(performance.now() - started);
    }
    console.log(
      `${String(count).padStart(5)} flags: first snapshot ${first.toFixed(0)} ms, same snapshot again ${again.toFixed(0)} ms, one change p50 ${percentile(samples, 50).toFixed(2)} ms`,
    );
  }
}

async function providerChangeLatency(): Promise<void> {
  const changes = 200;
  console.log(
    `\n## OpenFeature provider: PUT response → PROVIDER_CONFIGURATION_CHANGED at a server-sdk client, local runtime (${changes} changes)`,
  );
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "bench-provider", value: 0 } });
    await OpenFeature.setProviderAndWait(
      "bench",
      new FeatureFlagsProvider({ url: service.websocketUrl, token: READ_TOKEN }),
    );
    const featureClient = OpenFeature.getClient("bench");
    let wake: (() => void) | undefined;
    featureClient.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      if (details?.flagsChanged?.includes("bench-provider")) wake?.();
    });
    const samples: number[] = [];
    for (let value = 1; value <= changes; value++) {
      const seen = new Promise<void>((resolve) => (wake = resolve));
      const result = await api("PUT", "/flags/bench-provider", { body: { value } });
      const responded = performance.now();
      if (result.status !== 200) throw new Error(`PUT: ${result.status}`);
      await seen;
      samples.push(performance.now() - responded);
      if ((await featureClient.getNumberValue("bench-provider", -1)) !== value)
        throw new Error("stale value after the event");
    }
    console.log(
      `p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms  max ${Math.max(...samples).toFixed(1)} ms  (target: p50 < 100 ms)`,
    );
  } finally {
    await OpenFeature.close();
    await service.stop();
  }
}

async function loadSection(): Promise<void> {
  const options = { connections: 50, durationSeconds: 10 };
  console.log(
    `\n## DynamoDB work per API operation (ReturnConsumedCapacity), on-demand at $${ON_DEMAND_USD_PER_MILLION.read}/M reads, $${ON_DEMAND_USD_PER_MILLION.write}/M writes (us-east-1)`,
  );
  const { work, load } = await loadAndWork(options);
  for (const row of work) {
    console.log(
      `${row.operation.padEnd(26)} ${row.requests.join(" + ").padEnd(24)} RCU ${row.readUnits.toFixed(1).padStart(4)}  WCU ${row.writeUnits.toFixed(1).padStart(4)}  $${row.usdPerMillion.toFixed(3)} per million`,
    );
  }
  console.log(
    `\n## Local runtime under load (autocannon, ${options.connections} connections, ${options.durationSeconds} s) vs the same DynamoDB request straight to DynamoDB Local`,
  );
  const cpu = (ms: number | null) => (ms === null ? "(unknown)" : `${ms.toFixed(2)} ms`);
  for (const row of load) {
    const direct =
      row.dynamoRequests === 0
        ? "DynamoDB: none per request (answered from the warm flag set)"
        : `DynamoDB ${row.direct.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${row.direct.p50.toFixed(1)} ms p99 ${row.direct.p99.toFixed(1)} ms, ` +
          `its CPU ${cpu(row.dynamoCpuMsPerRequest.direct)} ` +
          `(${row.dynamoRequests} request${row.dynamoRequests === 1 ? "" : "s"}) | overhead p50 ${row.overheadP50Ms.toFixed(1)} ms (${row.ratioP50.toFixed(2)}×; target < 2 ms)`;
    const failures = row.service.non2xx + row.service.errors + row.direct.non2xx + row.direct.errors;
    console.log(
      `${row.operation.padEnd(36)} service ${row.service.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${row.service.p50.toFixed(1)} ms p99 ${row.service.p99.toFixed(1)} ms, ` +
        `its CPU ${row.serviceCpuMsPerRequest.toFixed(2)} ms/request + DynamoDB Local's ${cpu(row.dynamoCpuMsPerRequest.service)} | ${direct}` +
        (failures > 0
          ? ` [non-2xx/errors: ${row.service.non2xx}/${row.service.errors} vs ${row.direct.non2xx}/${row.direct.errors}]`
          : ""),
    );
  }
  console.log(
    `(load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${os.cpus().length} CPUs)`,
  );
  writeResult("load", { options, work, load });
}

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
  audit: auditDelay,
  fanout,
  // Not `fanout-…`: `npm run bench -- fanout` stays the 1,000-connection figure alone.
  scaleout: fanoutScaleOut,
  reliability,
  "provider-evaluation": providerEvaluation,
  "provider-change-cost": providerChangeCost,
  "provider-change-latency": providerChangeLatency,
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
