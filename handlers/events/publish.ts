import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBRecord } from "aws-lambda";
import { streamRecordToAuditLine } from "../audit/records";
import { CHANGE_EVENT_SOURCE, type ChangeLine, deliveryGroupOf, detailTypeOf, isChangeLine, subjectOf } from "./model";

/** One change event, as EventBridge takes it. */
export interface ChangeEvent {
  detailType: string;
  /** The audit line, as JSON text. */
  detail: string;
  /** The table whose stream recorded the change: lets a rule match one stack's events. */
  resources: string[];
}

/** One webhook delivery of one change, as queued: ordered within `group`. */
export interface QueuedDelivery {
  webhook: string;
  group: string;
  /** The event's id: `webhook-id` on every attempt. */
  id: string;
  /** The audit line, exactly the bytes POSTed and signed. */
  body: string;
}

export interface ChangeEventsDeps {
  /** Puts the batch's events on the bus (EventBridge on AWS; none locally). */
  publish?: (events: ChangeEvent[]) => Promise<void>;
  /** Queues deliveries, in order, for each configured webhook (its id). */
  enqueue?: (deliveries: QueuedDelivery[]) => Promise<void>;
  /** The configured webhooks' ids (`webhookId(url)`). */
  webhooks: readonly string[];
}

/** `arn:…:table/NAME/stream/…` → `arn:…:table/NAME` (undefined for a record without a source ARN). */
const tableArnOf = (record: DynamoDBRecord): string | undefined => record.eventSourceARN?.split("/stream/")[0];

/** The change lines of a batch of stream records, in stream order, with the table of each. */
export function changesOf(records: readonly DynamoDBRecord[]): Array<{ line: ChangeLine; table?: string }> {
  return records.flatMap((record) => {
    const line = streamRecordToAuditLine(record);
    return isChangeLine(line) ? [{ line, table: tableArnOf(record) }] : [];
  });
}

/**
 * The audit Pipe's enrichment: sees each batch of stream records in stream order (per shard, one
 * batch at a time), puts every change on the event bus and queues one delivery per webhook in
 * that order, then hands the records on unchanged to the Pipe's target (the audit trail). Reads
 * and records that change nothing are no events. A failure rejects the batch, which the Pipe
 * retries; the queue drops a repeat (its deduplication id is the event and the webhook).
 */
export function makeChangeEventsHandler(deps: ChangeEventsDeps) {
  return async (records: DynamoDBRecord[]): Promise<DynamoDBRecord[]> => {
    const changes = changesOf(records ?? []);
    if (changes.length === 0) return records;
    const events = changes.map(({ line, table }) => ({
      detailType: detailTypeOf(line),
      detail: JSON.stringify(line),
      resources: table === undefined ? [] : [table],
    }));
    const deliveries = deps.webhooks.flatMap((webhook) =>
      changes.map(({ line }) => ({
        webhook,
        group: deliveryGroupOf(webhook, subjectOf(line)),
        id: line.eventId,
        body: JSON.stringify(line),
      })),
    );
    await Promise.all([deps.publish?.(events), deliveries.length === 0 ? undefined : deps.enqueue?.(deliveries)]);
    return records;
  };
}

/**
 * PutEvents takes 10 entries and 256 KB a request; SendMessageBatch 10 messages and 256 KB. One
 * audit line stays far below 256 KB: a flag's value and its definition are capped at 32 KB each
 * (flags/validation.ts) and an evaluator at 32 KB, so a line with both images is under 150 KB.
 */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

/** Splits items into requests within both limits, keeping their order. */
export function chunked<T>(items: readonly T[], bytesOf: (item: T) => number): T[][] {
  const chunks: T[][] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    const last = chunks.at(-1);
    if (last === undefined || last.length >= MAX_ENTRIES || bytes + size > MAX_REQUEST_BYTES) {
      chunks.push([item]);
      bytes = size;
    } else {
      last.push(item);
      bytes += size;
    }
  }
  return chunks;
}

/**
 * Puts events on the bus named `eventBusName`, 10 at a time; entries EventBridge did not take
 * (throttled, or an internal failure) are sent again, up to 3 times, then the batch fails.
 */
export function makeEventBusPublisher(client: Pick<EventBridgeClient, "send">, eventBusName: string) {
  return async (events: ChangeEvent[]): Promise<void> => {
    const entryOf = (event: ChangeEvent): PutEventsRequestEntry => ({
      EventBusName: eventBusName,
      Source: CHANGE_EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: event.detail,
      Resources: event.resources,
    });
    // EventBridge counts an entry's Source, DetailType, Detail and Resources.
    const size = (e: PutEventsRequestEntry) =>
      Buffer.byteLength(`${e.Source}${e.DetailType}${e.Detail}${(e.Resources ?? []).join("")}`);
    for (const chunk of chunked(events.map(entryOf), size)) {
      let pending = chunk;
      for (let attempt = 1; pending.length > 0; attempt++) {
        const result = await client.send(new PutEventsCommand({ Entries: pending }));
        const failed = pending.filter((_, i) => result.Entries?.[i]?.ErrorCode !== undefined);
        if (failed.length > 0 && attempt >= 3) {
          const code = result.Entries?.find((e) => e.ErrorCode !== undefined)?.ErrorCode;
          throw new Error(`EventBridge refused ${failed.length} change events (${code})`);
        }
        pending = failed;
      }
    }
  };
}

/**
 * Sends deliveries to the FIFO delivery queue, in order, 10 at a time. The message group keeps one
 * receiver's events about one flag in order; the deduplication id (event and webhook) lets SQS drop
 * the repeat when the Pipe retries a batch within 5 minutes.
 */
export function makeDeliveryEnqueuer(client: Pick<SQSClient, "send">, queueUrl: string) {
  return async (deliveries: QueuedDelivery[]): Promise<void> => {
    const entryOf = (delivery: QueuedDelivery, index: number): SendMessageBatchRequestEntry => ({
      Id: String(index),
      MessageBody: delivery.body,
      MessageGroupId: delivery.group,
      MessageDeduplicationId: `${delivery.id}:${delivery.webhook}`,
      MessageAttributes: {
        webhook: { DataType: "String", StringValue: delivery.webhook },
        eventId: { DataType: "String", StringValue: delivery.id },
      },
    });
    for (const chunk of chunked(deliveries.map(entryOf), (e) => Buffer.byteLength(e.MessageBody ?? "") + 200)) {
      const result = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk }));
      // A failed entry fails the batch: sending the rest of a group after it would break its order.
      if ((result.Failed ?? []).length > 0) {
        const [first] = result.Failed ?? [];
        throw new Error(`SQS refused ${result.Failed?.length} webhook deliveries (${first?.Code}: ${first?.Message})`);
      }
    }
  };
}
