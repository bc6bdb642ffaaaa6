/**
 * `npm run bench -- scaleout`: a broadcast to 20,000 connections from one invocation vs split
 * over worker processes by the product's fan-out planning.
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeConnectionStore } from "../handlers/realtime/connections";
import { makeBroadcast } from "../handlers/realtime/handlers";
import { type FanoutWorkerEvent, makeFanOut } from "../handlers/realtime/scaleout";
import { localDynamoClient } from "../local/dynamodb";
import { startDynamoDbLocal } from "../local/supervisor";
import { ensureConnectionsTable } from "../local/tables";
import { benchPoster, fillConnections, managementApiProcess, silentLogger } from "./fanoutSupport";
import { writeResult } from "./results";

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

export async function fanoutScaleOut(): Promise<void> {
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
