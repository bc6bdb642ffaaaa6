/**
 * Reliability targets (issue 15), measured against `npm start`'s entry point in its own process:
 * - slow clients: 3 stalled readers and a sync flooder under 20 s of 30 KB updates; the service's
 *   RSS stays under 400 MiB and a healthy client gets each update within 1 s;
 * - bursts: 10 writers × 30 updates to 100 clients; every client holds every flag's last version
 *   within 1 s of the last write.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, READ_TOKEN } from "../tests/support/tokens";
import { connect, type TestClient } from "../tests/support/wsClient";

const PROJECT_ROOT = path.resolve(__dirname, "..");
const mib = (bytes: number) => bytes / 1024 / 1024;

function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Resident set size of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

interface LocalProcess {
  child: ChildProcess;
  url: string;
  websocketUrl: string;
  stop(): Promise<void>;
}

/** The local runtime as a user runs it (in memory), in a process of its own so its RSS is its own. */
async function startProcess(): Promise<LocalProcess> {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "local/main.ts"], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      PORT: "0",
      FLAGS_IN_MEMORY: "1",
      FLAGS_ADMIN_TOKEN: ADMIN_TOKEN,
      FLAGS_READ_TOKEN: READ_TOKEN,
      POWERTOOLS_LOG_LEVEL: "SILENT",
      NODE_NO_WARNINGS: "1",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (http:\/\/\S+)$/m.exec(output);
      if (ready !== null) resolve(ready[1]);
    });
    child.once("exit", (code) => reject(new Error(`service exited with ${code}:\n${output}`)));
  });
  child.stdout?.resume();
  return {
    child,
    url,
    websocketUrl: `${url.replace("http", "ws")}/ws?token=${encodeURIComponent(READ_TOKEN)}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

export interface SlowClientsResult {
  seconds: number;
  updates: number;
  updateBytes: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  healthyLatencyMs: { p50: number; p99: number; max: number; newest: number };
  /** Versions neither received nor superseded by a newer one received. */
  healthyMissed: number;
  /** Close code, if the service closed the healthy client before the end. */
  healthyClosedWith?: number;
  flooderReconnects: number;
}

/**
 * With `hostile` false, the same writes reach the healthy client alone: the control that shows
 * what the machine itself costs, so the difference is what the hostile clients cost the others.
 */
export async function slowClients(seconds = 20, hostile = true): Promise<SlowClientsResult> {
  console.log(
    `\n## Slow clients: ${hostile ? "3 stalled readers + a sync flooder" : "control, no hostile client"}, ${seconds} s of 30 KB updates`,
  );
  const service = await startProcess();
  const pid = service.child.pid as number;
  const api = client(service.url, ADMIN_TOKEN);
  const flags = ["slow-0", "slow-1", "slow-2", "slow-3", "slow-4"];
  try {
    for (const flagName of flags) await api("POST", "/flags", { body: { flagName, value: 0 } });
    const healthy = await connect(service.websocketUrl);
    await healthy.waitFor((m) => m.type === "snapshot");
    // The fan-out coalesces a batch to each flag's newest version (CONTRACT.md: a client keeps only
    // the highest), so a write counts as delivered when its version or a newer one of the flag arrives.
    const received = new Map<string, Array<{ version: number; at: number }>>();
    healthy.ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.type !== "flag.updated") return;
      const seen = received.get(message.flag.flagName) ?? [];
      seen.push({ version: message.flag.version, at: performance.now() });
      received.set(message.flag.flagName, seen);
    });
    let healthyClosedWith: number | undefined;
    healthy.ws.on("close", (code) => (healthyClosedWith = code));
    const deliveredAt = (w: { flagName: string; version: number }) =>
      received.get(w.flagName)?.find((m) => m.version >= w.version)?.at;
    let reconnects = 0;
    const attackers = hostile
      ? spawn(
          process.execPath,
          ["-r", "ts-node/register/transpile-only", "bench/hostileClients.ts", service.websocketUrl, "3"],
          { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] },
        )
      : undefined;
    if (attackers !== undefined) {
      attackers.stderr?.on(
        "data",
        (chunk: Buffer) => (reconnects += (chunk.toString().match(/cut off/g) ?? []).length),
      );
      await new Promise<void>((resolve, reject) => {
        attackers.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
        attackers.once("exit", (code) => reject(new Error(`hostile clients exited with ${code}`)));
      });
    }

    const rssStart = rssBytes(pid);
    let rssMax = rssStart;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssBytes(pid))), 100);
    const written: Array<{ flagName: string; version: number; at: number }> = [];
    const ends = performance.now() + seconds * 1000;
    const padding = "x".repeat(30 * 1024);
    for (let i = 0; performance.now() < ends; i++) {
      const flagName = flags[i % flags.length];
      const result = await api("PUT", `/flags/${flagName}`, { body: { value: `${i}:${padding}` } });
      if (result.status !== 200) throw new Error(`PUT ${result.status}`);
      written.push({ flagName, version: result.body.version, at: performance.now() });
    }
    // A last update, then wait (at most 5 s) until the healthy client has it.
    const last = written[written.length - 1];
    const deadline = performance.now() + 5000;
    while (deliveredAt(last) === undefined && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    clearInterval(sampler);
    attackers?.kill("SIGKILL");
    const closedByService = healthyClosedWith;
    healthy.ws.terminate();

    const latencies = written.flatMap((w) => {
      const at = deliveredAt(w);
      return at === undefined ? [] : [at - w.at];
    });
    const result: SlowClientsResult = {
      seconds,
      updates: written.length,
      updateBytes: padding.length,
      rssStartMiB: Number(mib(rssStart).toFixed(1)),
      rssMaxMiB: Number(mib(rssMax).toFixed(1)),
      healthyLatencyMs: {
        p50: Number(percentile(latencies, 50).toFixed(1)),
        p99: Number(percentile(latencies, 99).toFixed(1)),
        max: Number(Math.max(...latencies).toFixed(1)),
        newest: Number(((deliveredAt(last) ?? NaN) - last.at).toFixed(1)),
      },
      healthyMissed: written.length - latencies.length,
      healthyClosedWith: closedByService,
      flooderReconnects: reconnects,
    };
    console.log(
      `${result.updates} updates; service RSS ${result.rssStartMiB} → max ${result.rssMaxMiB} MiB (target < 400); ` +
        `healthy client: p50 ${result.healthyLatencyMs.p50} ms, p99 ${result.healthyLatencyMs.p99} ms, ` +
        `max ${result.healthyLatencyMs.max} ms, newest ${result.healthyLatencyMs.newest} ms (target < 1000), ` +
        `missed ${result.healthyMissed}${closedByService === undefined ? "" : ` (the service closed it: ${closedByService})`}; flooder cut off ${reconnects} times`,
    );
    return result;
  } finally {
    await service.stop();
  }
}

export interface BurstResult {
  writers: number;
  updatesPerWriter: number;
  clients: number;
  lastWriteToAllClientsCurrentMs: number;
  deliveryMs: { p50: number; p99: number };
  messagesPerClient: number;
}

export async function burst(writers = 10, updatesPerWriter = 30, clients = 100): Promise<BurstResult> {
  console.log(`\n## Burst: ${writers} writers × ${updatesPerWriter} updates to ${clients} clients`);
  const service = await startProcess();
  const api = client(service.url, ADMIN_TOKEN);
  const flags = Array.from({ length: writers }, (_, i) => `burst-${i}`);
  try {
    for (const flagName of flags) await api("POST", "/flags", { body: { flagName, value: 0 } });
    const listeners: TestClient[] = [];
    /** Per client: flag → [version, received at]. */
    const held: Array<Map<string, [number, number]>> = [];
    let messages = 0;
    for (let i = 0; i < clients; i++) {
      const listener = await connect(service.websocketUrl);
      await listener.waitFor((m) => m.type === "snapshot");
      const state = new Map<string, [number, number]>();
      listener.ws.on("message", (data) => {
        const message = JSON.parse(data.toString());
        if (message.type !== "flag.updated") return;
        messages += 1;
        const current = state.get(message.flag.flagName);
        if (current === undefined || current[0] < message.flag.version) {
          state.set(message.flag.flagName, [message.flag.version, performance.now()]);
        }
      });
      listeners.push(listener);
      held.push(state);
    }
    const writtenAt = new Map<string, number>();
    await Promise.all(
      flags.map(async (flagName) => {
        for (let i = 0; i < updatesPerWriter; i++) {
          const result = await api("PUT", `/flags/${flagName}`, { body: { value: i + 1 } });
          writtenAt.set(`${flagName}@${result.body.version}`, performance.now());
        }
      }),
    );
    const lastWrite = Math.max(...writtenAt.values());
    const finalVersion = updatesPerWriter + 1;
    const current = () => held.every((state) => flags.every((f) => state.get(f)?.[0] === finalVersion));
    const deadline = performance.now() + 30_000;
    while (!current() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const allCurrentAt = Math.max(...held.flatMap((state) => flags.map((f) => state.get(f)?.[1] ?? Infinity)));
    const delivery = held.flatMap((state) =>
      flags.map((f) => (state.get(f)?.[1] ?? Infinity) - (writtenAt.get(`${f}@${finalVersion}`) as number)),
    );
    for (const listener of listeners) listener.ws.terminate();
    const result: BurstResult = {
      writers,
      updatesPerWriter,
      clients,
      lastWriteToAllClientsCurrentMs: Number((allCurrentAt - lastWrite).toFixed(1)),
      deliveryMs: {
        p50: Number(percentile(delivery, 50).toFixed(1)),
        p99: Number(percentile(delivery, 99).toFixed(1)),
      },
      messagesPerClient: Number((messages / clients).toFixed(1)),
    };
    console.log(
      `every client current ${result.lastWriteToAllClientsCurrentMs} ms after the last write (target < 1000); ` +
        `last version delivered p50 ${result.deliveryMs.p50} ms, p99 ${result.deliveryMs.p99} ms; ` +
        `${result.messagesPerClient} messages per client for ${writers * updatesPerWriter} updates`,
    );
    return result;
  } finally {
    await service.stop();
  }
}

/** Runs both and writes `bench/results/reliability.json`. */
export async function reliability(): Promise<void> {
  const results = {
    measuredAt: new Date().toISOString(),
    loadAverage: fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
    slowClients: await slowClients(),
    control: await slowClients(20, false),
    burst: await burst(),
  };
  fs.mkdirSync(path.join(__dirname, "results"), { recursive: true });
  fs.writeFileSync(path.join(__dirname, "results", "reliability.json"), `${JSON.stringify(results, null, 2)}\n`);
}
