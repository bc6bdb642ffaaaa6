import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBStreamEvent, FirehoseTransformationEvent } from "aws-lambda";
import { makeAuditTransformHandler } from "../handlers/audit/transform";
import { type StreamPoller, startStreamPoller } from "./streams";

/** `audit/year=YYYY/month=MM/day=DD/hour=HH`, the prefix Firehose writes on AWS (UTC, arrival time). */
export function auditPrefix(at: Date, root = "audit"): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${root}/year=${at.getUTCFullYear()}/month=${two(at.getUTCMonth() + 1)}/day=${two(at.getUTCDate())}/hour=${two(at.getUTCHours())}`;
}

export interface AuditWriterOptions {
  dynamo: DynamoDBClient;
  endpoint: string;
  /** The tables whose streams feed the trail (on AWS, one Pipe each), each with its Pipe's filter. */
  sources: ReadonlyArray<{ tableName: string; filter?: Readonly<Record<string, unknown>> }>;
  /** `$FLAGS_DATA_DIR`: lines go to `audit/…/*.ndjson` below it, failures to `audit-errors/…`. */
  dataDir: string;
  logger: Pick<Logger, "error">;
}

/**
 * The audit pipeline on one machine: the flags and evaluators tables' streams feed the same
 * Firehose transform the deployed processor runs, in Firehose's event shape, and its output is
 * appended under the same relative layout as the S3 bucket, one trail for both.
 */
export async function startAuditWriter(options: AuditWriterOptions): Promise<StreamPoller> {
  const transform = makeAuditTransformHandler({ logger: options.logger });
  // One file per process and hour, as Firehose writes one object per buffer flush.
  const fileName = `flags-audit-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}.ndjson`;
  const append = (prefix: string, text: string) => {
    const dir = path.join(options.dataDir, prefix);
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(path.join(dir, fileName), text);
  };
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
    const now = new Date();
    const decode = (data: string | undefined) => Buffer.from(data ?? "", "base64").toString("utf8");
    const ok = result.records.filter((r) => r.result === "Ok").map((r) => decode(r.data));
    const failed = result.records.filter((r) => r.result === "ProcessingFailed").map((r) => `${decode(r.data)}\n`);
    if (ok.length > 0) append(auditPrefix(now), ok.join(""));
    if (failed.length > 0) append(auditPrefix(now, "audit-errors/processing-failed"), failed.join(""));
  };
  const started = await Promise.allSettled(
    options.sources.map(({ tableName, filter }) =>
      startStreamPoller({ dynamo: options.dynamo, endpoint: options.endpoint, tableName, filter, handler }),
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
