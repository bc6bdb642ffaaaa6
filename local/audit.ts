import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBStreamEvent, FirehoseTransformationEvent } from "aws-lambda";
import { type FlagRead, readAuditLine } from "../handlers/audit/reads";
import { makeAuditTransformHandler } from "../handlers/audit/transform";
import { type StreamPoller, startStreamPoller } from "./streams";

/** `audit/year=YYYY/month=MM/day=DD/hour=HH`, the prefix Firehose writes on AWS (UTC, arrival time). */
export function auditPrefix(at: Date, root = "audit"): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${root}/year=${at.getUTCFullYear()}/month=${two(at.getUTCMonth() + 1)}/day=${two(at.getUTCDate())}/hour=${two(at.getUTCHours())}`;
}

/**
 * How long a read's line is held before it is written: a change's line arrives through the stream
 * poller tens (at most a few hundred) of milliseconds after the change, a read's at once, and the
 * trail is written in the order of `at` (as the contract has a flag's lines sort), so a read never
 * lands before the change it followed. While no read is held, a change's line is written at once.
 */
const HOLD_MS = 1000;
const FLUSH_EVERY_MS = 100;

/** The local audit trail: where the stream writer's lines and the HTTP layer's read lines go. */
export interface AuditTrail {
  /** Lines (newline-terminated JSON) for the trail, each with its `at`. */
  add(lines: ReadonlyArray<{ at: string; text: string }>): void;
  /** A record the transform could not read, written at once under `audit-errors/`. */
  fail(text: string): void;
  /** The `read` line of a successful `GET /flags/{flagName}` (on AWS: from the access logs). */
  read(read: FlagRead): void;
  /** Writes whatever is held; nothing is added afterwards. */
  close(): void;
}

/**
 * The trail's files: one per process, under the same relative layout as the S3 bucket (Firehose
 * writes one object per buffer flush), lines in the order of `at`.
 */
export function openAuditTrail(options: { dataDir: string; logger: Pick<Logger, "error"> }): AuditTrail {
  const fileName = `flags-audit-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}.ndjson`;
  const append = (prefix: string, text: string) => {
    const dir = path.join(options.dataDir, prefix);
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(path.join(dir, fileName), text);
  };
  /** Lines waiting for their turn: reads, and the changes that arrived while a read waited. */
  let held: Array<{ at: string; text: string }> = [];
  const write = (lines: Array<{ at: string; text: string }>) => {
    // Array.prototype.sort is stable: lines of one instant keep their arrival order.
    lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    try {
      append(auditPrefix(new Date()), lines.map((line) => line.text).join(""));
    } catch (error) {
      options.logger.error("audit lines could not be written", { count: lines.length, error: error as Error });
    }
  };
  const flush = (all: boolean) => {
    const cutoff = new Date(Date.now() - HOLD_MS).toISOString();
    const ready = all ? held : held.filter((line) => line.at < cutoff);
    if (ready.length === 0) return;
    held = all ? [] : held.filter((line) => line.at >= cutoff);
    write(ready);
  };
  const timer = setInterval(() => flush(false), FLUSH_EVERY_MS);
  timer.unref();
  let open = true;
  return {
    add(lines) {
      if (!open) return;
      if (held.length > 0) held.push(...lines);
      else if (lines.length > 0) write([...lines]);
    },
    fail(text) {
      append(auditPrefix(new Date(), "audit-errors/processing-failed"), text);
    },
    read(read) {
      const line = readAuditLine(read, randomUUID());
      if (open) held.push({ at: line.at, text: `${JSON.stringify(line)}\n` });
    },
    close() {
      open = false;
      clearInterval(timer);
      flush(true);
    },
  };
}

export interface AuditWriterOptions {
  dynamo: DynamoDBClient;
  endpoint: string;
  /** The tables whose streams feed the trail (on AWS, one Pipe each), each with its Pipe's filters. */
  sources: ReadonlyArray<{ tableName: string; filters?: ReadonlyArray<Readonly<Record<string, unknown>>> }>;
  /** Where the lines go. */
  trail: AuditTrail;
  logger: Pick<Logger, "error">;
}

/**
 * The audit pipeline on one machine: the flags and evaluators tables' streams feed the same
 * Firehose transform the deployed processor runs, in Firehose's event shape, and its output goes
 * to the trail, one for both.
 */
export async function startAuditWriter(options: AuditWriterOptions): Promise<StreamPoller> {
  const transform = makeAuditTransformHandler({ logger: options.logger });
  const handler = async (stream: DynamoDBStreamEvent) => {
    const event: FirehoseTransformationEvent = {
      invocationId: randomUUID(),
      deliveryStreamArn: "arn:aws:firehose:local:000000000000:deliverystream/local-audit",
      region: "local",
      records: stream.Records.map((record) => ({
        recordId: randomUUID(),
        approximateArrivalTimestamp: Date.now(),
        data: Buffer.from(JSON.stringify(record), "utf8").toString("base64"),
      })),
    };
    const result = await transform(event);
    const decode = (data: string | undefined) => Buffer.from(data ?? "", "base64").toString("utf8");
    const lines = result.records
      .filter((r) => r.result === "Ok")
      .flatMap((r) => decode(r.data).split("\n"))
      .filter((text) => text !== "")
      .map((text) => ({ at: (JSON.parse(text) as { at: string }).at, text: `${text}\n` }));
    options.trail.add(lines);
    const failed = result.records.filter((r) => r.result === "ProcessingFailed").map((r) => `${decode(r.data)}\n`);
    if (failed.length > 0) options.trail.fail(failed.join(""));
  };
  const started = await Promise.allSettled(
    options.sources.map(({ tableName, filters }) =>
      startStreamPoller({ dynamo: options.dynamo, endpoint: options.endpoint, tableName, filters, handler }),
    ),
  );
  const pollers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => void (await Promise.all(pollers.map((poller) => poller.stop())));
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await stop();
    throw failure.reason;
  }
  return { stop };
}
