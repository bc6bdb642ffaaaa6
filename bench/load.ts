/**
 * The local runtime under load, next to the same DynamoDB request sent straight to DynamoDB Local:
 * what the service itself adds (HTTP, auth, routing, validation, SDK), and the DynamoDB work
 * behind each API operation with its on-demand price.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type autocannon from "autocannon";
import { startDynamoDbLocal } from "../local/supervisor";
import { startService } from "../local/service";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { type DynamoCall, startDynamoProxy } from "./dynamoProxy";
import { writeResult } from "./results";

/**
 * DynamoDB on-demand prices, us-east-1, as published (since the 2024-11-01 reduction): USD per
 * million request units. Other regions cost more; storage, streams reads by Lambda (free) and
 * PITR are not per request.
 */
export const ON_DEMAND_USD_PER_MILLION = { read: 0.125, write: 0.625 } as const;

export interface OperationWork {
  operation: string;
  requests: string[];
  readUnits: number;
  writeUnits: number;
  usdPerMillion: number;
}

export interface LoadRow {
  operation: string;
  /** DynamoDB requests per operation; the direct figures are per operation (summed p50, divided rate). */
  dynamoRequests: number;
  service: { requestsPerSecond: number; p50: number; p99: number; non2xx: number; errors: number };
  direct: { requestsPerSecond: number; p50: number; p99: number; non2xx: number; errors: number };
  /** CPU the service process spent per request served (HTTP, auth, routing, validation, SDK, stream pollers). */
  serviceCpuMsPerRequest: number;
  /**
   * CPU DynamoDB Local's JVM spent per request served through the service (its writes, the
   * pollers' stream reads, conflicting transactions), and per operation replayed directly; null
   * where the process's CPU time cannot be read (no /proc).
   */
  dynamoCpuMsPerRequest: { service: number | null; direct: number | null };
  overheadP50Ms: number;
  ratioP50: number;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
}

type Sample = LoadRow["service"];

/** CPU time (user + system) a process has used, in ms, from /proc; undefined where unreadable. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** What `run` cost a process in CPU ms, per `count` of what it did. */
async function cpuPer<T>(pid: number | undefined, run: () => Promise<T>, count: (result: T) => number) {
  const before = processCpuMs(pid);
  const result = await run();
  const after = processCpuMs(pid);
  const per = before === undefined || after === undefined ? null : (after - before) / Math.max(count(result), 1);
  return { result, per };
}

/** autocannon in its own process (bench/cannonProcess.ts): the load generator off the service's CPU. */
async function cannon(options: autocannon.Options & { spread?: number }): Promise<Sample> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(__dirname, "cannonProcess.ts"), JSON.stringify(options)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  const result = JSON.parse(output) as autocannon.Result;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

export async function loadAndWork(options: LoadOptions): Promise<{ work: OperationWork[]; load: LoadRow[] }> {
  const dynamo = await startDynamoDbLocal();
  const proxy = await startDynamoProxy(dynamo.endpoint);
  const tables = { tableName: "flags", connectionsTableName: "connections" };
  // The OFREP limiter off: the load comes from one address.
  const common = { port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS, ofrepRateLimit: 0, ...tables };
  const work: OperationWork[] = [];
  const replays = new Map<string, DynamoCall[]>();
  try {
    // 1. The DynamoDB requests behind each API operation: on the flags and evaluators tables (not the fan-out's scans).
    const measured = await startService({ ...common, dynamoEndpoint: proxy.endpoint });
    try {
      const api = client(measured.url, ADMIN_TOKEN);
      const operations: Array<[string, () => ReturnType<typeof api>, number]> = [
        ["POST /flags", () => api("POST", "/flags", { body: { flagName: "load-flag", value: true } }), 201],
        ["GET /flags/{flagName}", () => api("GET", "/flags/load-flag"), 200],
        ["PUT /flags/{flagName}", () => api("PUT", "/flags/load-flag", { body: { value: false } }), 200],
        ["GET /flags?limit=100", () => api("GET", "/flags?limit=100"), 200],
        ["DELETE /flags/{flagName}", () => api("DELETE", "/flags/load-flag"), 204],
      ];
      for (const [operation, send, expected] of operations) {
        proxy.take();
        const result = await send();
        if (result.status !== expected) throw new Error(`${operation}: ${result.status}`);
        const calls = proxy.take().filter((call) => call.table?.startsWith(tables.tableName) === true);
        const readUnits = calls.reduce((sum, call) => sum + call.readCapacityUnits, 0);
        const writeUnits = calls.reduce((sum, call) => sum + call.writeCapacityUnits, 0);
        work.push({
          operation,
          requests: calls.map((call) => call.operation),
          readUnits,
          writeUnits,
          usdPerMillion: readUnits * ON_DEMAND_USD_PER_MILLION.read + writeUnits * ON_DEMAND_USD_PER_MILLION.write,
        });
        replays.set(operation, calls);
      }
      const recreated = await api("POST", "/flags", { body: { flagName: "load-flag", value: true } });
      if (recreated.status !== 201) throw new Error(`POST: ${recreated.status}`);
    } finally {
      await measured.stop();
    }

    // 2. Under load: the service (straight on DynamoDB Local), then the same DynamoDB requests alone.
    const service = await startService({ ...common, dynamoEndpoint: dynamo.endpoint });
    const load: LoadRow[] = [];
    try {
      const api = client(service.url, ADMIN_TOKEN);
      for (let i = 0; i < options.connections; i++) {
        const created = await api("POST", "/flags", { body: { flagName: `load-${i}`, value: true } });
        if (created.status !== 201) throw new Error(`POST: ${created.status}`);
      }
      const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const put = { method: "PUT" as const, headers: auth, body: '{"value":false}' };
      const targets: Array<{
        label: string;
        operation: string;
        target: autocannon.Options & { spread?: number };
        /** The flag name in the recorded requests that `__N__` replaces, when spread. */
        spreadName?: string;
      }> = [
        {
          label: "GET /flags/{flagName}",
          operation: "GET /flags/{flagName}",
          target: { url: `${service.url}/flags/load-flag`, headers: auth },
        },
        {
          label: "PUT /flags/{flagName}, 50 flags",
          operation: "PUT /flags/{flagName}",
          target: { url: `${service.url}/flags/load-__N__`, ...put, spread: options.connections },
          spreadName: "load-flag",
        },
        {
          label: "PUT /flags/{flagName}, all one flag",
          operation: "PUT /flags/{flagName}",
          target: { url: `${service.url}/flags/load-flag`, ...put },
        },
        {
          label: "POST /ofrep/v1/evaluate/flags/{key}",
          operation: "OFREP",
          target: {
            url: `${service.url}/ofrep/v1/evaluate/flags/load-flag`,
            method: "POST",
            headers: auth,
            body: '{"context":{"targetingKey":"user-1"}}',
          },
        },
      ];
      for (const { label, operation, target, spreadName } of targets) {
        const base = { connections: options.connections, duration: options.durationSeconds };
        const cpu = process.cpuUsage();
        const { result: serviceSample, per: dynamoServiceCpu } = await cpuPer(
          dynamo.pid,
          () => cannon({ ...base, ...target }),
          (sample) => sample.requestsPerSecond * options.durationSeconds,
        );
        const used = process.cpuUsage(cpu);
        const served = serviceSample.requestsPerSecond * options.durationSeconds;
        const serviceCpuMsPerRequest = (used.user + used.system) / 1000 / Math.max(served, 1);
        const replay = replays.get(operation) ?? [];
        // OFREP answers from its warm flag set: no DynamoDB request per evaluation to compare with.
        let direct: Sample = { requestsPerSecond: 0, p50: 0, p99: 0, non2xx: 0, errors: 0 };
        let dynamoDirectCpu: number | null = null;
        if (replay.length > 0) {
          // The operation's DynamoDB requests in order, each connection cycling through them; one
          // operation is then `replay.length` requests. A replayed conditional write may be refused
          // (its condition no longer holds): DynamoDB did the same work to refuse it.
          const requests = replay.map((call) => {
            const { host: _host, "content-length": _length, ...headers } = call.headers;
            const body = spreadName === undefined ? call.body : call.body.replaceAll(`"${spreadName}"`, '"load-__N__"');
            return { method: "POST" as const, path: "/", headers, body };
          });
          const { result: sample, per } = await cpuPer(
            dynamo.pid,
            () =>
              cannon({
                ...base,
                url: dynamo.endpoint,
                requests,
                ...(spreadName === undefined ? {} : { spread: options.connections }),
              }),
            // Per operation: `replay.length` requests make one.
            (result) => (result.requestsPerSecond * options.durationSeconds) / replay.length,
          );
          dynamoDirectCpu = per;
          direct = {
            ...sample,
            requestsPerSecond: sample.requestsPerSecond / replay.length,
            p50: sample.p50 * replay.length,
            p99: sample.p99 * replay.length,
          };
        }
        load.push({
          operation: label,
          dynamoRequests: replay.length,
          service: serviceSample,
          direct,
          serviceCpuMsPerRequest,
          dynamoCpuMsPerRequest: { service: dynamoServiceCpu, direct: dynamoDirectCpu },
          overheadP50Ms: serviceSample.p50 - direct.p50,
          ratioP50: serviceSample.p50 / Math.max(direct.p50, 0.001),
        });
      }
    } finally {
      await service.stop();
    }
    return { work, load };
  } finally {
    await proxy.stop();
    await dynamo.stop();
  }
}

/** `npm run bench -- load`: the DynamoDB work behind each API operation, then the local runtime under load. */
export async function loadSection(): Promise<void> {
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
