import type { DynamoDBRecord } from "aws-lambda";
import { recordToMessage, type ServerMessage } from "./messages";

/** One flag's net change within a batch of stream records. */
export interface CoalescedChange {
  flagName: string;
  /** The message for the flag's newest state in the batch. */
  message: ServerMessage;
  /** The batch's first record about this flag: where a retry must start so that nothing is lost. */
  firstRecord: DynamoDBRecord;
}

/**
 * Reduces a batch of flags-table stream records to one message per flag, its newest: a stream
 * delivers each key's changes in order, so the last record about a flag is its current state, and
 * a client keeps only the highest version anyway (CONTRACT.md, "WebSocket"). A burst of 300
 * updates to 10 flags becomes 10 messages per client instead of 300.
 */
export function coalesceRecords(records: readonly DynamoDBRecord[]): CoalescedChange[] {
  const byFlag = new Map<string, CoalescedChange>();
  for (const record of records) {
    const message = recordToMessage(record);
    if (message === undefined) continue;
    const flagName =
      message.type === "flag.deleted"
        ? message.flagName
        : message.type === "flag.created" || message.type === "flag.updated"
          ? message.flag.flagName
          : undefined;
    if (flagName === undefined) continue;
    byFlag.set(flagName, { flagName, message, firstRecord: byFlag.get(flagName)?.firstRecord ?? record });
  }
  return [...byFlag.values()];
}
