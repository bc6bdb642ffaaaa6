/**
 * `npm run bench -- cost`: dollars per million operations on AWS at list prices (bench/prices.ts),
 * from what this machine measures of the deployed code: each function's serialized bundle, run in
 * this process against DynamoDB Local, its duration and CPU time per invocation (Lambda's duration
 * is derived from them at the function's memory, read from the program), the DynamoDB capacity
 * each operation consumes (`ReturnConsumedCapacity`, through bench/dynamoProxy.ts), the bytes it
 * logs, and the stream records a write makes. Writes `bench/results/cost.json`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { toTokenRecords } from "../handlers/auth/tokens";
import { evaluatorsTableFor, FLAG_SET_KEY } from "../handlers/evaluators/table";
import { historyTableFor } from "../handlers/flags/history";
import { issueStreamCredential } from "../handlers/ofrep/streamCredential";
import { ROUTES } from "../handlers/routes";
import { localDynamoClient } from "../local/dynamodb";
import { startStreamPoller } from "../local/streams";
import { startDynamoDbLocal } from "../local/supervisor";
import { ensureConnectionsTable, ensureFlagsTable } from "../local/tables";
import { materialize, type MaterializedArtifact } from "../tests/support/artifacts";
import { startFakeManagementApi } from "../tests/support/fakeManagementApi";
import { startFakeSsm } from "../tests/support/fakeSsm";
import { startFakeEventServices } from "../tests/support/fakeEvents";
import { installAwsLambdaGlobal } from "../tests/support/lambdaStreaming";
import { proxyEvent } from "../tests/support/proxyEvents";
import { restAccessLogLine, TYPICAL_READ } from "../tests/support/accessLogEvents";
import { type RecordedResource, runProgram } from "../tests/support/pulumiMocks";
import { createTokensTable } from "../tests/support/tokenTable";
import { TEST_TOKENS } from "../tests/support/tokens";
import {
  type Breakdown,
  costOf,
  type Goal,
  goalOf,
  type LambdaUse,
  lambdaDurationMs,
  perMillion,
  SERVICES,
  total,
  type Usage,
} from "./costModel";
import { type DynamoCall, startDynamoProxy } from "./dynamoProxy";
import { EVENT_STREAM_PROCESS } from "./eventStreamProcess";
import { DEFAULT_TRACE_SAMPLE_RATE } from "../components/flagApi";
import { FLAGS_STREAM_FILTERS } from "../handlers/realtime/table";
import { schedulesTableFor } from "../handlers/schedules/model";
import { ALTERNATIVES, cost, METERING, PRICES, PRICES_DATE, PRICES_REGION } from "./prices";
import { writeResult } from "./results";
import { percentile } from "./stats";

const FUNCTION = "aws:lambda/function:Function";
type Handler = (event: unknown, ...rest: unknown[]) => Promise<unknown>;

/** A measured invocation: median wall and CPU time, and Lambda's duration derived from them. */
interface Timing {
  wallMs: number;
  cpuMs: number;
  p99WallMs: number;
}

interface FunctionConfig {
  memoryMb: number;
  architecture: "arm64" | "x86_64";
}

interface Capacity {
  readUnits: number;
  writeUnits: number;
  calls: string[];
}

const sumCapacity = (calls: DynamoCall[]): Capacity => ({
  readUnits: calls.reduce((sum, c) => sum + c.readCapacityUnits, 0),
  writeUnits: calls.reduce((sum, c) => sum + c.writeCapacityUnits, 0),
  calls: calls.map((c) => `${c.operation} ${c.table ?? ""} r${c.readCapacityUnits} w${c.writeCapacityUnits}`),
});

async function timed(invoke: (i: number) => Promise<unknown>, n: number, warm = 10, gapMs = 0): Promise<Timing> {
  for (let i = 0; i < warm; i++) await invoke(i);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await invoke(warm + i);
    wall.push(performance.now() - started);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wallMs: percentile(wall, 50), cpuMs: percentile(cpu, 50), p99WallMs: percentile(wall, 99) };
}

/** What an invocation writes to stdout/stderr (the function's log lines), one entry per line. */
async function loggedLines(invoke: () => Promise<unknown>): Promise<number[]> {
  const written: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    await invoke();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  // Structured log lines only (JSON): not Node's process warnings, which a cold start prints once.
  return written
    .join("")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => Buffer.byteLength(line));
}

/** The REST access log line (components/accessLogs.ts) with typical values in place. */
export const sampleAccessLogLine = (): string => restAccessLogLine(TYPICAL_READ);

/** 100 flags of the kinds users write (as bench/ofrep.ts), and one large one. */
function flagDefinition(i: number): Record<string, unknown> {
  const flagName = `cost-${String(i).padStart(3, "0")}`;
  if (i % 2 === 0) return { flagName, value: i % 4 === 0 };
  return {
    flagName,
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: { if: [{ in: [{ var: "country" }, ["DE", "FR", "NL"]] }, "on", "off"] },
    description: "Checkout redesign for the EU shops",
  };
}
const LARGE_FLAG = "cost-large";
/** A flag near the contract's limits: a 600-address allow list (~17 KB of targeting). */
const largeFlag = (suffix = "") => ({
  flagName: `${LARGE_FLAG}${suffix}`,
  variants: { on: true, off: false },
  defaultVariant: "off",
  targeting: {
    if: [{ in: [{ var: "email" }, Array.from({ length: 600 }, (_, i) => `tester-${i}@example.com`)] }, "on", "off"],
  },
  description: "x".repeat(1000),
});

const CONTEXT = { targetingKey: "user-42", country: "DE", email: "someone@example.com" };

interface Row {
  operation: string;
  note: string;
  usage: Usage;
  breakdown: Breakdown;
  perMillion: number;
  goal?: Goal;
}

export async function costTable(): Promise<void> {
  console.log(`\n## Cost per operation on AWS (${PRICES_REGION} list prices of ${PRICES_DATE}; measured here)`);
  const resources: RecordedResource[] = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
  const functionResource = (suffix: string) => {
    const found = resources.find((r) => r.type === FUNCTION && r.name.endsWith(`-${suffix}`));
    if (found === undefined) throw new Error(`no function ${suffix}`);
    return found;
  };
  const configOf = (suffix: string): FunctionConfig => {
    const inputs = functionResource(suffix).inputs;
    return { memoryMb: inputs.memorySize, architecture: inputs.architectures?.[0] ?? "x86_64" };
  };
  const names = [
    "read",
    "write",
    "delete",
    "ofrep",
    "events",
    "ws-default",
    "ws-connect",
    "fanout",
    "audit-transform",
    "change-publisher",
  ];
  const artifacts: Record<string, MaterializedArtifact> = {};
  for (const name of names) artifacts[name] = await materialize(functionResource(name));
  const webAcl = resources.find((r) => r.type === "aws:wafv2/webAcl:WebAcl");
  const wafRules = (JSON.parse(webAcl?.inputs.ruleJson ?? "[]") as unknown[]).length;

  const dynamo = await startDynamoDbLocal();
  const client: DynamoDBClient = localDynamoClient(dynamo.endpoint);
  const proxy = await startDynamoProxy(dynamo.endpoint);
  const management = await startFakeManagementApi();
  const deletionParameter = String(
    functionResource("delete").inputs.environment.variables.ALLOW_FLAG_DELETION_PARAMETER,
  );
  const ssm = await startFakeSsm(new Map([[deletionParameter, "true"]]));
  // EventBridge (and SQS, for webhooks; none configured here) for the change publisher.
  const eventServices = await startFakeEventServices();
  const flagsTable = "cost-flags";
  const tokensTable = "cost-tokens";
  const connectionsTable = "cost-connections";
  const savedEnv = { ...process.env };
  try {
    await ensureFlagsTable(client, flagsTable);
    await createTokensTable(client, tokensTable, toTokenRecords(TEST_TOKENS));
    await ensureConnectionsTable(client, connectionsTable);
    const local: Record<string, string> = {
      FLAGS_TABLE_NAME: flagsTable,
      EVALUATORS_TABLE_NAME: evaluatorsTableFor(flagsTable),
      HISTORY_TABLE_NAME: historyTableFor(flagsTable),
      // A delete cancels the flag's schedules and ends its rollout (none here): one Query, one GetItem.
      SCHEDULES_TABLE_NAME: schedulesTableFor(flagsTable),
      TOKENS_TABLE_NAME: tokensTable,
      CONNECTIONS_TABLE_NAME: connectionsTable,
      WEBSOCKET_ENDPOINT: management.endpoint,
    };
    /** The bundle as Lambda loads it: a fresh module, its factory run with the program's environment. */
    const load = (name: string, dynamoEndpoint: string, logLevel = "SILENT"): Handler => {
      const artifact = artifacts[name];
      const env = Object.fromEntries(Object.entries(artifact.programEnv).map(([k, v]) => [k, local[k] ?? v]));
      Object.assign(process.env, {
        ...env,
        AWS_REGION: "local",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eventServices.endpoint,
        AWS_ENDPOINT_URL_SQS: eventServices.endpoint,
        POWERTOOLS_LOG_LEVEL: logLevel,
        AWS_LAMBDA_LOG_LEVEL: logLevel === "SILENT" ? "" : logLevel,
      });
      installAwsLambdaGlobal();
      delete require.cache[artifact.indexPath];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle loaded afresh, as Lambda does
      return require(artifact.indexPath).handler as Handler;
    };
    // The flags, created as a client would: POST /flags through the write function's bundle.
    const seed = load("write", dynamo.endpoint);
    const create = async (body: Record<string, unknown>) => {
      const created = (await seed(proxyEvent({ method: "POST", resource: "/flags", body }))) as { statusCode: number };
      if (created.statusCode !== 201) throw new Error(`seeding ${String(body.flagName)}: ${JSON.stringify(created)}`);
    };
    for (let i = 0; i < 100; i++) await create(flagDefinition(i));
    await create(largeFlag());
    /** One operation: its capacity (through the proxy), its log lines, its timing (direct). */
    const measure = async (
      name: string,
      event: (i: number) => unknown,
      n = 200,
      check?: (result: unknown) => void,
      gapMs = 0,
    ) => {
      console.error(`[cost] ${new Date().toISOString().slice(11, 19)} measuring ${name}`);
      const viaProxy = load(name, proxy.endpoint);
      proxy.take();
      await viaProxy(event(-2));
      // The first call's capacity (a read's first in its minute stamps lastAccessed), then a later one's.
      const first = sumCapacity(proxy.take());
      const checked = await viaProxy(event(-1));
      check?.(checked);
      const capacity = sumCapacity(proxy.take());
      const logging = load(name, dynamo.endpoint, "INFO");
      await logging(event(-3));
      const lines = await loggedLines(() => logging(event(-4)));
      const direct = load(name, dynamo.endpoint);
      const timing = await timed((i) => direct(event(i)), n, 10, gapMs);
      return { first, capacity, lines, timing };
    };
    const ok = (status: number) => (result: unknown) => {
      const got = (result as { statusCode: number }).statusCode;
      if (got !== status) throw new Error(`expected ${status}, got ${got}: ${JSON.stringify(result).slice(0, 300)}`);
    };
    const lambdaUse = (fn: string, timing: Timing, invocations = 1): LambdaUse => {
      const config = configOf(fn);
      return {
        function: fn,
        invocations,
        durationMs: lambdaDurationMs(timing.wallMs, timing.cpuMs, config.memoryMb),
        ...config,
      };
    };
    const accessLogBytes = Buffer.byteLength(sampleAccessLogLine());
    // The stage's sampling rule (components/flagApi.ts); the reservoir (1 a second) is a fixed cost.
    const xrayTraces = DEFAULT_TRACE_SAMPLE_RATE;
    const rows: Row[] = [];
    const figures: Record<string, unknown> = {};
    const addRow = (operation: string, note: string, usage: Usage, goal?: { own: LambdaUse; readUnits: number }) => {
      const breakdown = costOf(usage);
      const sum = total(breakdown);
      rows.push({
        operation,
        note,
        usage,
        breakdown,
        perMillion: perMillion(sum),
        ...(goal === undefined ? {} : { goal: goalOf(sum, goal.own, goal.readUnits) }),
      });
    };
    /** A REST request's own lines: the access log line, the function's log lines. */
    const restLogs = (lines: number[]) => [
      { count: 1, bytes: accessLogBytes },
      ...lines.map((bytes) => ({ count: 1, bytes })),
    ];

    // --- GET /flags/{flagName}: typical and large flag.
    const reader = { tokenId: "reader", scopes: "read" };
    const getEvent = (flagName: string) => () =>
      proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName }, authorizer: reader });
    for (const [size, flagName] of [
      ["typical", "cost-001"],
      ["large", LARGE_FLAG],
    ] as const) {
      const measured = await measure("read", getEvent(flagName), 200, ok(200));
      figures[`get-${size}`] = measured;
      if (measured.capacity.writeUnits !== 0) {
        throw new Error(`a read within the minute wrote (${measured.capacity.writeUnits} WRU): the read path changed`);
      }
      const own = lambdaUse("read", measured.timing);
      const logEvents = restLogs(measured.lines);
      // The `read` audit line rides on the access log line: one subscription → Firehose, batched
      // (CloudWatch Logs sends many lines per record, so the 5 KB rounding is shared: the line's
      // bytes, uncompressed, as a fraction of one 5 KB record).
      const base: Usage = {
        restRequests: 1,
        wafRequests: 1,
        lambda: [own],
        logEvents,
        xrayTraces,
        firehoseRecords: {
          count: accessLogBytes / METERING.firehoseRecordRoundingBytes,
          bytes: METERING.firehoseRecordRoundingBytes,
        },
      };
      addRow(
        `GET /flags/{flagName}, ${size} flag`,
        `a read within the minute of the flag's last stamp: GetItem ${measured.capacity.readUnits} RRU, no write, no stream record; read audit line via the access log`,
        { ...base, readUnits: measured.capacity.readUnits },
        { own, readUnits: measured.capacity.readUnits },
      );
      addRow(
        `GET /flags/{flagName}, ${size} flag, first read in its minute`,
        `GetItem ${measured.first.readUnits} RRU and the stamp's UpdateItem ${measured.first.writeUnits} WRU; the stamp's stream record is filtered out at the source (no fan-out, Pipe or Firehose)`,
        { ...base, readUnits: measured.first.readUnits, writeUnits: measured.first.writeUnits },
      );
    }

    // --- OFREP single and bulk evaluations (100 flags + the large one).
    const ofrepEvent = (key?: string) => () =>
      proxyEvent({
        method: "POST",
        resource: key === undefined ? "/ofrep/v1/evaluate/flags" : "/ofrep/v1/evaluate/flags/{key}",
        ...(key === undefined ? {} : { params: { key } }),
        body: { context: CONTEXT },
        authorizer: reader,
      });
    // Timed as a quiet container serves them: each more than 250 ms after the last, so each
    // evaluation waits for its version probe (a busy container probes 4 times a second in all).
    for (const [label, key, n] of [
      ["OFREP single evaluation, typical flag", "cost-001", 40],
      ["OFREP single evaluation, large flag", LARGE_FLAG, 40],
      ["OFREP bulk evaluation, 101 flags", undefined, 40],
    ] as const) {
      const measured = await measure("ofrep", ofrepEvent(key), n, ok(200), 260);
      // The version probe: a strongly consistent GetItem of the flag-set item, at most every 250 ms
      // per container. Worst case (a quiet container): one per evaluation.
      proxy.take();
      const proxied = DynamoDBDocumentClient.from(localDynamoClient(proxy.endpoint));
      await proxied.send(
        new GetCommand({
          TableName: evaluatorsTableFor(flagsTable),
          Key: { name: FLAG_SET_KEY },
          ConsistentRead: true,
          ProjectionExpression: "setVersion",
        }),
      );
      const probe = sumCapacity(proxy.take());
      proxied.destroy();
      figures[label] = { ...measured, probe };
      const own = lambdaUse("ofrep", measured.timing);
      const probeUnits = Math.max(probe.readUnits, 1);
      addRow(
        label,
        `flag set cached per container; a version probe (${probeUnits} RRU) per evaluation, as in a quiet container; lastEvaluated ≤ once a minute per flag (amortized away)`,
        {
          restRequests: 1,
          wafRequests: 1,
          lambda: [own],
          readUnits: probeUnits,
          logEvents: restLogs(measured.lines),
          xrayTraces,
        },
        { own, readUnits: probeUnits },
      );
    }

    // --- Writes: create, update, delete (typical and large), with what their stream records cost.
    const records: DynamoDBRecord[] = [];
    /**
     * The flags table's stream records that the consumers receive (stamps are filtered out at the
     * source, as the Pipe's and the event source mapping's filter criteria do), gathered into
     * `records` as they arrive.
     */
    const gatherRecords = () =>
      startStreamPoller({
        dynamo: client,
        endpoint: dynamo.endpoint,
        tableName: flagsTable,
        filters: FLAGS_STREAM_FILTERS,
        handler: async (event) => {
          records.push(...event.Records);
        },
      });
    const poller = await gatherRecords();
    const writeRows: Array<{ label: string; fn: string; event: (i: number) => unknown; status: number }> = [];
    for (const size of ["typical", "large"] as const) {
      const definition = (i: number) =>
        size === "typical" ? { ...flagDefinition(1), flagName: `w-${size}-${i + 10}` } : largeFlag(`-w-${i + 10}`);
      const nameOf = (i: number) => String(definition(i).flagName);
      writeRows.push(
        {
          label: `create, ${size} flag`,
          fn: "write",
          event: (i) => proxyEvent({ method: "POST", resource: "/flags", body: definition(i) }),
          status: 201,
        },
        {
          label: `update, ${size} flag`,
          fn: "write",
          event: (i) =>
            proxyEvent({
              method: "PUT",
              resource: "/flags/{flagName}",
              params: { flagName: nameOf(i) },
              body: { ...definition(i), flagName: undefined, defaultVariant: i % 2 === 0 ? "on" : "off" },
            }),
          status: 200,
        },
        {
          label: `delete, ${size} flag`,
          fn: "delete",
          event: (i) =>
            proxyEvent({ method: "DELETE", resource: "/flags/{flagName}", params: { flagName: nameOf(i) } }),
          status: 204,
        },
      );
    }
    const writeFigures: Record<string, unknown> = {};
    const fanoutTimings: Timing[] = [];
    const transformTimings: Array<{ timing: Timing; records: number }> = [];
    for (const row of writeRows) {
      const n = 40;
      records.length = 0;
      const measured = await measure(row.fn, row.event, n, ok(row.status));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const streamRecords = [...records];
      const recordBytes = streamRecords.map((r) => Buffer.byteLength(JSON.stringify(r)));
      const perWrite = streamRecords.length / (n + 10 + 4);
      writeFigures[row.label] = {
        ...measured,
        streamRecords: streamRecords.length,
        recordBytes: percentile(recordBytes, 50),
      };
      // The fan-out: one invocation per write at low rates (no connections: the per-message cost is its own row).
      const fanout = load("fanout", dynamo.endpoint);
      const sample = streamRecords.slice(0, 1);
      const fanoutTiming = await timed(() => fanout({ Records: sample }), 20, 3);
      fanoutTimings.push(fanoutTiming);
      // Firehose's transform: a batch of the records as the Pipe delivers them.
      const transform = load("audit-transform", dynamo.endpoint);
      const batch = {
        records: streamRecords.slice(0, 50).map((r, i) => ({
          recordId: String(i),
          approximateArrivalTimestamp: Date.now(),
          data: Buffer.from(JSON.stringify(r)).toString("base64"),
        })),
      };
      const transformTiming = await timed(() => transform(batch), 20, 3);
      // The Pipe's enrichment: each change put on the bus as a change event (one invocation per
      // write at low rates, as the fan-out), the records handed back unchanged for Firehose.
      const publisher = load("change-publisher", dynamo.endpoint);
      const publisherTiming = await timed(() => publisher(sample), 20, 3);
      transformTimings.push({ timing: transformTiming, records: batch.records.length });
      const bytes = percentile(recordBytes, 50);
      addRow(
        row.label,
        `${measured.capacity.calls.length} DynamoDB call(s): ${measured.capacity.writeUnits} WRU, ${measured.capacity.readUnits} RRU; ${perWrite.toFixed(1)} stream record(s) of ~${bytes} B → fan-out, Pipe (its enrichment puts a change event on the bus), Firehose (5 KB each), transform`,
        {
          restRequests: 1,
          wafRequests: 1,
          lambda: [
            lambdaUse(row.fn, measured.timing),
            lambdaUse("fanout", fanoutTiming, perWrite),
            lambdaUse("audit-transform", transformTiming, perWrite / batch.records.length),
            lambdaUse("change-publisher", publisherTiming, perWrite),
          ],
          busEvents: { count: perWrite, bytes },
          readUnits: measured.capacity.readUnits,
          writeUnits: measured.capacity.writeUnits,
          pipesEvents: { count: perWrite, bytes },
          firehoseRecords: { count: perWrite, bytes },
          logEvents: restLogs(measured.lines),
          xrayTraces,
        },
      );
    }
    await poller.stop();
    figures.writes = writeFigures;

    // --- WebSocket message: one post of the fan-out to one connection (500 connections, one invocation).
    const connectionIds = Array.from({ length: 500 }, (_, i) => `conn-${i}`);
    for (let i = 0; i < connectionIds.length; i += 25) {
      await client.send(
        new (await import("@aws-sdk/client-dynamodb")).BatchWriteItemCommand({
          RequestItems: {
            [connectionsTable]: connectionIds.slice(i, i + 25).map((connectionId) => ({
              PutRequest: { Item: { connectionId: { S: connectionId }, tokenId: { S: "reader" } } },
            })),
          },
        }),
      );
    }
    const fanout = load("fanout", dynamo.endpoint);
    const oneChange = await (async () => {
      records.length = 0;
      const again = await gatherRecords();
      await create({ flagName: "ws-change", value: 1 });
      const deadline = Date.now() + 5000;
      while (records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await again.stop();
      return records.slice(0, 1);
    })();
    const fanoutViaProxy = load("fanout", proxy.endpoint);
    proxy.take();
    await fanoutViaProxy({ Records: oneChange });
    const fanoutCapacity = sumCapacity(proxy.take());
    const fanoutTiming = await timed(() => fanout({ Records: oneChange }), 5, 1);
    const posted = management.received.get("conn-0") ?? [];
    const messageBytes = Buffer.byteLength(posted.at(-1) ?? "");
    figures.fanoutPerPost = { connections: connectionIds.length, fanoutTiming, messageBytes, fanoutCapacity };
    // One fan-out invocation for 1,000 posts: its wall time is mostly waiting on posts (200 in flight);
    // billed per post as the invocation's duration / posts.
    const fanoutConfig = configOf("fanout");
    addRow(
      "WebSocket message pushed (fan-out of a change)",
      `${messageBytes} B; one fan-out invocation posts to 500 connections: ${fanoutTiming.wallMs.toFixed(0)} ms, CPU ${fanoutTiming.cpuMs.toFixed(0)} ms here`,
      {
        webSocketMessages: { count: 1, bytes: messageBytes },
        // Its Scan of the connections table, shared by the posts.
        readUnits: fanoutCapacity.readUnits / connectionIds.length,
        lambda: [
          {
            function: "fanout",
            invocations: 1 / connectionIds.length,
            durationMs: lambdaDurationMs(fanoutTiming.wallMs, fanoutTiming.cpuMs, fanoutConfig.memoryMb),
            ...fanoutConfig,
          },
        ],
      },
    );

    // --- WebSocket client-hour: connection minutes, a ping every 5 minutes of silence (answered
    // by ws-default), a reconnect every ~105 minutes (authorizer, connect, snapshot, disconnect).
    const ping = await measure(
      "ws-default",
      () => ({ requestContext: { connectionId: "conn-1", routeKey: "$default" }, body: '{"action":"ping"}' }),
      100,
    );
    const connect = await measure(
      "ws-connect",
      (i) => ({
        requestContext: {
          connectionId: `new-${i}`,
          routeKey: "$connect",
          authorizer: { tokenId: "reader", scopes: "read" },
        },
      }),
      100,
    );
    figures.webSocketClient = { ping, connect };
    const reconnectsPerHour = 60 / 105;
    const pingsPerHour = 12;
    addRow(
      "WebSocket client, connected hour (idle)",
      `60 connection-minutes; ${pingsPerHour} pings + pongs (ws-default); ${reconnectsPerHour.toFixed(2)} reconnects (4 invocations each, timed as ws-connect's) and their snapshot post`,
      {
        webSocketConnectionMinutes: 60,
        webSocketMessages: { count: 2 * pingsPerHour + reconnectsPerHour * 2, bytes: 200 },
        lambda: [
          lambdaUse("ws-default", ping.timing, pingsPerHour),
          lambdaUse("ws-connect", connect.timing, 4 * reconnectsPerHour),
        ],
        writeUnits: reconnectsPerHour * (connect.capacity.writeUnits + 1),
        logEvents: [{ count: pingsPerHour + reconnectsPerHour * 4, bytes: 420 }],
      },
    );

    // --- OFREP event stream, connected hour: one invocation per 14 minutes, held open; measured in
    // a fresh process for one stream's CPU time, peak memory and DynamoDB reads.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-cost-"));
    const script = path.join(dir, "stream.js");
    fs.writeFileSync(script, EVENT_STREAM_PROCESS);
    const streamMs = 30_000;
    const record = toTokenRecords(TEST_TOKENS).find((r) => r.id === "reader");
    if (record === undefined) throw new Error("no reader token");
    const streamEvent = proxyEvent({
      method: "GET",
      resource: "/ofrep/v1/events",
      query: { c: issueStreamCredential(record, Date.now()), v: "stale" },
      authorizer: null,
    });
    const eventsEnv = Object.fromEntries(
      Object.entries(artifacts.events.programEnv).map(([k, v]) => [k, local[k] ?? v]),
    );
    // Asynchronously: the proxy answering the child's DynamoDB requests runs in this process.
    const runStream = async (mode: "stream" | "idle") =>
      JSON.parse(
        (
          await promisify(execFile)(
            process.execPath,
            ["--no-warnings", script, artifacts.events.indexPath, JSON.stringify(streamEvent), String(streamMs), mode],
            {
              encoding: "utf8",
              env: {
                ...process.env,
                ...eventsEnv,
                AWS_REGION: "local",
                AWS_ACCESS_KEY_ID: "local",
                AWS_SECRET_ACCESS_KEY: "local",
                AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
                POWERTOOLS_LOG_LEVEL: "WARN",
              },
              timeout: streamMs + 60_000,
            },
          )
        ).stdout,
      ) as { wallMs: number; cpuMs: number; bytes: number; rssAfterLoadMiB: number; maxRssMiB: number };
    proxy.take();
    console.error(`[cost] ${new Date().toISOString().slice(11, 19)} one event stream for ${streamMs} ms`);
    const stream = await runStream("stream");
    const streamCalls = sumCapacity(proxy.take().filter((call) => call.operation === "GetItem"));
    const idle = await runStream("idle");
    fs.rmSync(dir, { recursive: true, force: true });
    const probesPerHour = (streamCalls.calls.length / stream.wallMs) * 3_600_000;
    const rruPerHour = (streamCalls.readUnits / stream.wallMs) * 3_600_000;
    const cpuPerMinuteMs = (stream.cpuMs / stream.wallMs) * 60_000;
    figures.eventStream = {
      streamMs,
      stream,
      idle,
      calls: streamCalls.calls.length,
      probesPerHour,
      rruPerHour,
      cpuPerMinuteMs,
    };
    const eventsConfig = configOf("events");
    const invocationsPerHour = 60 / 14;
    for (const memoryMb of [eventsConfig.memoryMb, 128]) {
      addRow(
        `OFREP event stream, connected hour at ${memoryMb} MB${memoryMb === eventsConfig.memoryMb ? " (deployed)" : ""}`,
        `${invocationsPerHour.toFixed(2)} invocations of 14 min billed whole; ${Math.round(probesPerHour)} version probes (${rruPerHour.toFixed(0)} RRU); CPU ${cpuPerMinuteMs.toFixed(0)} ms/min here; peak RSS ${stream.maxRssMiB.toFixed(0)} MiB`,
        {
          restRequests: invocationsPerHour,
          wafRequests: invocationsPerHour,
          lambda: [
            {
              function: "events",
              invocations: invocationsPerHour,
              durationMs: 14 * 60_000,
              memoryMb,
              architecture: eventsConfig.architecture,
            },
          ],
          readUnits: rruPerHour,
          logEvents: [{ count: invocationsPerHour, bytes: accessLogBytes }],
          xrayTraces: invocationsPerHour * xrayTraces,
        },
      );
    }

    // --- Print and write.
    const money = (usd: number) => (usd >= 100 ? usd.toFixed(0) : usd >= 1 ? usd.toFixed(2) : usd.toFixed(3));
    const short: Record<string, string> = {
      "API Gateway": "APIGW",
      WAF: "WAF",
      Lambda: "Lambda",
      DynamoDB: "DDB",
      "DynamoDB Streams": "Streams",
      Pipes: "Pipes",
      EventBridge: "Events",
      Firehose: "Firehose",
      S3: "S3",
      "CloudWatch Logs": "Logs",
      "X-Ray": "X-Ray",
    };
    console.log(
      `${"operation ($ per million)".padEnd(58)}${SERVICES.map((s) => short[s].padStart(9)).join("")}${"total".padStart(10)}  goal (≤ 1.05 × base)`,
    );
    for (const row of rows) {
      const goal =
        row.goal === undefined
          ? ""
          : row.goal.met
            ? `met (limit ${money(perMillion(row.goal.limit))})`
            : `over by ${money(perMillion(row.goal.over))} (limit ${money(perMillion(row.goal.limit))})`;
      console.log(
        `${row.operation.padEnd(58)}${SERVICES.map((s) => money(perMillion(row.breakdown[s])).padStart(9)).join("")}${money(row.perMillion).padStart(10)}  ${goal}`,
      );
    }
    const methods = ROUTES.length;
    const fixed = {
      wafPerMonth: cost(PRICES.wafWebAclMonth, 1) + cost(PRICES.wafRuleMonth, wafRules),
      wafRules,
      detailedMetricsAvoidedPerMonth: cost(PRICES.cloudWatchCustomMetricMonth, 7 * methods),
      restMethods: methods,
    };
    console.log(
      `fixed: WAF $${fixed.wafPerMonth.toFixed(2)}/month (web ACL + ${wafRules} rules); per-method detailed metrics off saves up to $${fixed.detailedMetricsAvoidedPerMonth.toFixed(2)}/month (7 metrics × ${methods} methods)`,
    );
    console.log(
      `per rows (deployed config): ${Object.entries(
        Object.fromEntries(names.map((n) => [n, `${configOf(n).memoryMb} MB ${configOf(n).architecture}`])),
      )
        .map(([n, c]) => `${n} ${c}`)
        .join("; ")}`,
    );
    const ofrepSingle = rows.find((r) => r.operation.startsWith("OFREP single evaluation, typical"));
    const appConfigPerMillion = perMillion(cost(ALTERNATIVES.appConfigRequest, 1));
    console.log(
      `alternatives: AppConfig $${appConfigPerMillion.toFixed(2)} per million configuration requests + $${ALTERNATIVES.appConfigReceived.usd} per configuration received; LaunchDarkly $${ALTERNATIVES.launchDarklyServiceConnectionMonth.usd}/service connection/month, $${ALTERNATIVES.launchDarklyClientMauMonth.usd} per 1,000 client-side MAU/month (this stack: OFREP single $${ofrepSingle?.perMillion.toFixed(2)} per million)`,
    );
    writeResult("cost", {
      region: PRICES_REGION,
      pricesDate: PRICES_DATE,
      prices: PRICES,
      alternatives: ALTERNATIVES,
      metering: METERING,
      functions: Object.fromEntries(names.map((n) => [n, configOf(n)])),
      accessLogLineBytes: accessLogBytes,
      fixed,
      rows: rows.map((row) => ({
        ...row,
        breakdownPerMillion: Object.fromEntries(SERVICES.map((s) => [s, perMillion(row.breakdown[s])])),
        goal:
          row.goal === undefined
            ? undefined
            : {
                ...row.goal,
                baselinePerMillion: perMillion(row.goal.baseline),
                limitPerMillion: perMillion(row.goal.limit),
                overPerMillion: perMillion(row.goal.over),
              },
      })),
      measured: figures,
    });
  } finally {
    process.env = savedEnv;
    client.destroy();
    await proxy.stop();
    await management.stop();
    await ssm.stop();
    await eventServices.stop();
    await dynamo.stop();
  }
}
