import type { Logger } from "@aws-lambda-powertools/logger";
import type {
  DynamoDBRecord,
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  FirehoseTransformationResultRecord,
} from "aws-lambda";
import { isLogsPayload, logsPayloadToReadLines } from "./reads";
import { streamRecordToAuditLine } from "./records";

/** The newline-terminated audit lines a Firehose record's bytes become (none: drop it). */
function auditLines(data: Buffer): unknown[] {
  // The REST stage's access log events, as the log group's subscription filter delivers them.
  if (isLogsPayload(data)) return logsPayloadToReadLines(data);
  const line = streamRecordToAuditLine(JSON.parse(data.toString("utf8")) as DynamoDBRecord);
  return line === undefined ? [] : [line];
}

/**
 * Firehose processor for the stream's two sources. A DynamoDB stream record (as an EventBridge
 * Pipe delivers it, from the flags or the evaluators table) leaves as one newline-terminated audit
 * line, or is dropped when it records no event (a reference count). A CloudWatch Logs payload
 * (gzipped, from the access logs' subscription filter) leaves as the `read` lines of its events,
 * or is dropped when it has none (a CONTROL_MESSAGE). A record it cannot read is returned as
 * ProcessingFailed (Firehose writes it under the error prefix); the batch goes on.
 */
export function makeAuditTransformHandler({ logger }: { logger: Pick<Logger, "error"> }) {
  return async (event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> => ({
    records: event.records.map((record): FirehoseTransformationResultRecord => {
      try {
        const lines = auditLines(Buffer.from(record.data, "base64"));
        if (lines.length === 0) return { recordId: record.recordId, result: "Dropped", data: record.data };
        const text = lines.map((line) => `${JSON.stringify(line)}\n`).join("");
        const data = Buffer.from(text, "utf8").toString("base64");
        return { recordId: record.recordId, result: "Ok", data };
      } catch (error) {
        logger.error("audit record could not be transformed", { recordId: record.recordId, error: error as Error });
        return { recordId: record.recordId, result: "ProcessingFailed", data: record.data };
      }
    }),
  });
}
