/** `npm run bench -- fanout`: one broadcast to 1,000 connections, posts in parallel vs one at a time. */
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeConnectionStore } from "../handlers/realtime/connections";
import { makeBroadcast } from "../handlers/realtime/handlers";
import { FANOUT_CONCURRENCY } from "../handlers/realtime/table";
import { localDynamoClient } from "../local/dynamodb";
import { startDynamoDbLocal } from "../local/supervisor";
import { ensureConnectionsTable } from "../local/tables";
import { benchPoster, fillConnections, managementApiProcess, silentLogger } from "./fanoutSupport";
import { writeResult } from "./results";

export async function fanout(): Promise<void> {
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
