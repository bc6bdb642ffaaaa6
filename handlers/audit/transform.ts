import type { Logger } from "@aws-lambda-powertools/logger";
import type {
  DynamoDBRecord,
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  FirehoseTransformationResultRecord,
} from "aws-lambda";
import { streamRecordToAuditLine } from "./records";

/**
 * Firehose processor: each incoming record is one DynamoDB stream record (as an EventBridge Pipe
 * delivers it, from the flags or the evaluators table) and leaves as one newline-terminated audit
 * line, or is dropped when it records no event (a delete's stamp, a reference count). A record it cannot read is
 * returned as ProcessingFailed (Firehose writes it under the error prefix); the batch goes on.
 */
export function makeAuditTransformHandler({ logger }: { logger: Pick<Logger, "error"> }) {
  return async (event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> => ({
    records: event.records.map((record): FirehoseTransformationResultRecord => {
      try {
        const streamRecord = JSON.parse(Buffer.from(record.data, "base64").toString("utf8")) as DynamoDBRecord;
        const line = streamRecordToAuditLine(streamRecord);
        if (line === undefined) return { recordId: record.recordId, result: "Dropped", data: record.data };
        const data = Buffer.from(`${JSON.stringify(line)}\n`, "utf8").toString("base64");
        return { recordId: record.recordId, result: "Ok", data };
      } catch (error) {
        logger.error("audit record could not be transformed", { recordId: record.recordId, error: error as Error });
        return { recordId: record.recordId, result: "ProcessingFailed", data: record.data };
      }
    }),
  });
}
