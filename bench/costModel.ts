/**
 * The cost table's arithmetic: what one operation uses of each service, priced. Pure functions of
 * a `Usage` and the prices (bench/prices.ts), so a unit test checks the sums and the roundings.
 */
import { cost, METERING, PRICES, type Prices } from "./prices";

export interface LambdaUse {
  function: string;
  /** Invocations per operation (a fraction when one invocation serves many operations). */
  invocations: number;
  /** Billed duration of one invocation, before rounding up to the millisecond. */
  durationMs: number;
  memoryMb: number;
  architecture: "arm64" | "x86_64";
}

/** What one operation uses. Every field per operation; fractions for shares of batched work. */
export interface Usage {
  restRequests?: number;
  wafRequests?: number;
  /** WebSocket messages (in or out), each of `bytes`: metered in 32 KB units. */
  webSocketMessages?: { count: number; bytes: number };
  webSocketConnectionMinutes?: number;
  lambda?: LambdaUse[];
  readUnits?: number;
  writeUnits?: number;
  /** DynamoDB Streams GetRecords a Pipe makes (Lambda's event source mappings read for free). */
  streamsReadRequests?: number;
  /** Pipe events (after filtering), each of `bytes`: billed per 64 KB chunk. */
  pipesEvents?: { count: number; bytes: number };
  /** Change events put on the event bus, each of `bytes`: billed per 64 KB chunk. */
  busEvents?: { count: number; bytes: number };
  /** Firehose records of `bytes` each: each rounded up to 5 KB. */
  firehoseRecords?: { count: number; bytes: number };
  s3Puts?: number;
  /** CloudWatch Logs events of `bytes` each (plus 26 bytes metered per event). */
  logEvents?: { count: number; bytes: number }[];
  /** Traces recorded: X-Ray's default sampling keeps 5 % of a busy API's requests. */
  xrayTraces?: number;
}

export const SERVICES = [
  "API Gateway",
  "WAF",
  "Lambda",
  "DynamoDB",
  "DynamoDB Streams",
  "Pipes",
  "EventBridge",
  "Firehose",
  "S3",
  "CloudWatch Logs",
  "X-Ray",
] as const;
export type Service = (typeof SERVICES)[number];
export type Breakdown = Record<Service, number>;

/** Lambda bills each invocation's duration rounded up to the millisecond. */
export const billedMilliseconds = (durationMs: number): number => Math.max(1, Math.ceil(durationMs));

/**
 * An invocation's duration on Lambda from one measured here: the time spent waiting (on
 * DynamoDB, on the network) as measured, and the CPU time stretched by the function's share of a
 * vCPU (Lambda gives 1 vCPU at 1,769 MB, proportionally less below; more memory does not speed up
 * single-threaded code beyond one vCPU).
 */
export function lambdaDurationMs(wallMs: number, cpuMs: number, memoryMb: number): number {
  const waiting = Math.max(0, wallMs - cpuMs);
  return waiting + cpuMs * Math.max(1, METERING.lambdaMbPerVcpu / memoryMb);
}

export function lambdaCost(use: LambdaUse, prices: Prices = PRICES): number {
  const gbSecond = use.architecture === "arm64" ? prices.lambdaArmGbSecond : prices.lambdaX86GbSecond;
  const gbSeconds = (billedMilliseconds(use.durationMs) / 1000) * (use.memoryMb / 1024);
  return use.invocations * (cost(prices.lambdaRequest, 1) + cost(gbSecond, gbSeconds));
}

const units = (bytes: number, unit: number) => Math.max(1, Math.ceil(bytes / unit));

/** Dollars per service for one operation. */
export function costOf(usage: Usage, prices: Prices = PRICES): Breakdown {
  const logBytes = (usage.logEvents ?? []).reduce(
    (sum, e) => sum + e.count * (e.bytes + METERING.logEventOverheadBytes),
    0,
  );
  const ws = usage.webSocketMessages;
  const pipes = usage.pipesEvents;
  const firehose = usage.firehoseRecords;
  const bus = usage.busEvents;
  return {
    "API Gateway":
      cost(prices.apiGatewayRestRequest, usage.restRequests ?? 0) +
      cost(
        prices.apiGatewayWebSocketMessage,
        ws === undefined ? 0 : ws.count * units(ws.bytes, METERING.webSocketMessageUnitBytes),
      ) +
      cost(prices.apiGatewayWebSocketConnectionMinute, usage.webSocketConnectionMinutes ?? 0),
    WAF: cost(prices.wafRequest, usage.wafRequests ?? 0),
    Lambda: (usage.lambda ?? []).reduce((sum, use) => sum + lambdaCost(use, prices), 0),
    DynamoDB:
      cost(prices.dynamoReadRequestUnit, usage.readUnits ?? 0) +
      cost(prices.dynamoWriteRequestUnit, usage.writeUnits ?? 0),
    "DynamoDB Streams": cost(prices.dynamoStreamsReadRequest, usage.streamsReadRequests ?? 0),
    Pipes: cost(prices.pipesRequest, pipes === undefined ? 0 : pipes.count * units(pipes.bytes, 64 * 1024)),
    EventBridge: cost(prices.eventBridgeEvent, bus === undefined ? 0 : bus.count * units(bus.bytes, 64 * 1024)),
    Firehose: cost(
      prices.firehoseIngestedGb,
      firehose === undefined
        ? 0
        : (firehose.count *
            units(firehose.bytes, METERING.firehoseRecordRoundingBytes) *
            METERING.firehoseRecordRoundingBytes) /
            METERING.bytesPerGb,
    ),
    S3: cost(prices.s3Put, usage.s3Puts ?? 0),
    "CloudWatch Logs": cost(prices.cloudWatchLogsIngestedGb, logBytes / METERING.bytesPerGb),
    "X-Ray": cost(prices.xrayTraceRecorded, usage.xrayTraces ?? 0),
  };
}

export const total = (breakdown: Breakdown): number => SERVICES.reduce((sum, s) => sum + breakdown[s], 0);

export interface Goal {
  /** API Gateway + WAF + one invocation of the operation's own function + one DynamoDB read. */
  baseline: number;
  limit: number;
  met: boolean;
  /** Dollars per operation above the limit (0 when met). */
  over: number;
}

/**
 * The goal: a read or an evaluation costs no more than 1.05 × (API Gateway + WAF + one
 * Lambda invocation + one DynamoDB read). `read` is the capacity of that one read (request units).
 */
export function goalOf(totalUsd: number, own: LambdaUse, readUnits: number, prices: Prices = PRICES): Goal {
  const baseline = total(
    costOf({ restRequests: 1, wafRequests: 1, lambda: [{ ...own, invocations: 1 }], readUnits }, prices),
  );
  const limit = 1.05 * baseline;
  return { baseline, limit, met: totalUsd <= limit + 1e-15, over: Math.max(0, totalUsd - limit) };
}

/** Dollars per operation as dollars per million operations. */
export const perMillion = (usd: number): number => usd * 1e6;
