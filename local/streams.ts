import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { matchesAnyFilter } from "../handlers/realtime/messages";
import { STREAM_CONSUMER } from "../handlers/realtime/table";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./dynamodb";

export interface StreamPollerOptions {
  /** Used to find the table's stream. */
  dynamo: DynamoDBClient;
  endpoint: string;
  tableName: string;
  /** Invoked like Lambda invokes a stream consumer; `batchItemFailures` is honoured. */
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
  /**
   * The event-source filter patterns, as given to the event source mapping or the Pipe: a record
   * is delivered when it matches one of them. None: every record is.
   */
  filters?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /**
   * Pause after a poll that found nothing, doubled for each further empty poll up to
   * `maxIdleMs`: a stream that just had records is read again within 20 ms (a burst is followed
   * closely), an idle one about 5 times a second, about as often as Lambda polls a shard (4 times a
   * second), instead of 50. Defaults 20 ms and 200 ms.
   */
  idleMs?: number;
  maxIdleMs?: number;
  /**
   * Pause after a poll that delivered records but did not fill a batch, so that the next batch
   * gathers what arrives meanwhile (Lambda's batching window): under a steady stream of changes
   * the shard is read about 1 / (window + read time) times a second, in fuller batches, instead
   * of back to back. A full batch (a backlog) is followed at once. Default 20 ms.
   */
  batchWindowMs?: number;
  /** Where a batch that exhausted its retries goes (on AWS: the on-failure queue). */
  onDiscard?: (records: DynamoDBRecord[], error: unknown) => void;
}

export interface StreamPoller {
  stop(): Promise<void>;
}

/** GetRecords gives Dates and no source ARN; a Lambda event has epoch seconds and the ARN. */
function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...(record as unknown as DynamoDBRecord),
    eventSourceARN: streamArn,
    dynamodb: {
      ...(record.dynamodb as DynamoDBRecord["dynamodb"]),
      ApproximateCreationDateTime: created instanceof Date ? created.getTime() / 1000 : undefined,
    },
  };
}

/**
 * Polls a DynamoDB Local table's stream and invokes `handler` with real stream records, the way a
 * Lambda event source mapping does: filtered, in order per shard, in batches; a failed batch is
 * retried from its first reported failure, a bounded number of times, then discarded.
 */
export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const latestStreamArn = async (): Promise<string> => {
    const table = await options.dynamo.send(new DescribeTableCommand({ TableName: options.tableName }));
    const arn = table.Table?.LatestStreamArn;
    if (arn === undefined) throw new Error(`table ${options.tableName} has no stream`);
    return arn;
  };
  let streamArn = await latestStreamArn();

  const iterators = new Map<string, string>();
  /** Last sequence number read per shard, to resume after a trimmed or expired iterator. */
  const lastSequence = new Map<string, string>();
  const seenShards = new Set<string>();

  const iteratorFor = async (shardId: string): Promise<string | undefined> => {
    const after = lastSequence.get(shardId);
    const result = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(after === undefined
          ? { ShardIteratorType: "TRIM_HORIZON" }
          : { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: after }),
      }),
    );
    return result.ShardIterator;
  };

  /** One GetRecords on a shard; a trimmed or expired iterator is renewed from where it was. */
  const readShard = async (shardId: string, iterator: string) => {
    try {
      return await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: STREAM_CONSUMER.batchSize }));
    } catch (error) {
      const name = (error as Error).name;
      if (name !== "TrimmedDataAccessException" && name !== "ExpiredIteratorException") throw error;
      return { Records: [], NextShardIterator: await iteratorFor(shardId) };
    }
  };

  /**
   * Finds shards not seen yet. At start (`skipHistory`) each is read to its end without
   * delivering, which is what a LATEST starting position means (DynamoDB Local answers a real
   * LATEST iterator on a fresh shard with TrimmedDataAccessException, and stream timestamps are
   * rounded to the minute, so neither can stand in). Shards found later are delivered from their
   * beginning: they are children of a shard that was being read.
   */
  const discoverShards = async (skipHistory: boolean) => {
    const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (seenShards.has(shardId)) continue;
      seenShards.add(shardId);
      let iterator = await iteratorFor(shardId);
      while (skipHistory && iterator !== undefined) {
        const page = await readShard(shardId, iterator);
        const last = page.Records?.at(-1)?.dynamodb?.SequenceNumber;
        if (last !== undefined) lastSequence.set(shardId, last);
        iterator = page.NextShardIterator;
        if ((page.Records ?? []).length === 0) break;
      }
      if (iterator !== undefined) iterators.set(shardId, iterator);
    }
  };

  const deliver = async (records: DynamoDBRecord[]) => {
    let pending = records;
    for (let attempt = 0; pending.length > 0; attempt++) {
      try {
        const response = await options.handler({ Records: pending });
        const failed = response?.batchItemFailures?.[0]?.itemIdentifier;
        if (failed === undefined) return;
        // Like Lambda: retry from the first failed record; everything after it comes again.
        pending = pending.slice(
          Math.max(
            0,
            pending.findIndex((r) => r.dynamodb?.SequenceNumber === failed),
          ),
        );
        if (attempt >= STREAM_CONSUMER.maximumRetryAttempts) throw new Error(`record ${failed} kept failing`);
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      } catch (error) {
        if (attempt >= STREAM_CONSUMER.maximumRetryAttempts) {
          options.onDiscard?.(pending, error);
          return;
        }
        // Backoff as Lambda's retries have: a dependency that is restarting gets ~8 s to return.
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  };

  /**
   * After a failed read (DynamoDB Local restarting): fresh iterators from the last record read on
   * each shard, so nothing is skipped or lost. A table re-created in memory has a new stream,
   * which is read from its beginning.
   */
  const reopen = async () => {
    const arn = await latestStreamArn();
    if (arn !== streamArn) {
      streamArn = arn;
      lastSequence.clear();
    }
    iterators.clear();
    seenShards.clear();
    await discoverShards(false);
  };

  /** Records read (delivered or filtered out) by the last poll: any activity resets the backoff. */
  let read = 0;
  /** Whether the last poll read a full page from some shard: more is waiting there. */
  let backlog = false;
  const pollOnce = async (): Promise<number> => {
    let delivered = 0;
    read = 0;
    backlog = false;
    for (const [shardId, iterator] of [...iterators]) {
      const page = await readShard(shardId, iterator);
      if (page.NextShardIterator === undefined) iterators.delete(shardId);
      else iterators.set(shardId, page.NextShardIterator);
      const last = page.Records?.at(-1)?.dynamodb?.SequenceNumber;
      if (last !== undefined) lastSequence.set(shardId, last);
      read += page.Records?.length ?? 0;
      if ((page.Records?.length ?? 0) >= STREAM_CONSUMER.batchSize) backlog = true;
      const records = (page.Records ?? [])
        .map((record) => toLambdaRecord(record, streamArn))
        .filter((record) => options.filters === undefined || matchesAnyFilter(record, options.filters));
      if (records.length > 0) {
        delivered += records.length;
        await deliver(records);
      }
    }
    return delivered;
  };

  await discoverShards(true);
  let running = true;
  let lastDiscovery = Date.now();
  let failures = 0;
  let emptyPolls = 0;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const loop = (async () => {
    while (running) {
      try {
        if (failures > 0) await reopen();
        const delivered = await pollOnce();
        if (failures > 0) console.error(`stream poller for ${options.tableName} resumed`);
        failures = 0;
        if (Date.now() - lastDiscovery > 1000 || iterators.size === 0) {
          lastDiscovery = Date.now();
          await discoverShards(false);
        }
        if (read > 0) emptyPolls = 0;
        else emptyPolls += 1;
        if (delivered === 0 && running) {
          const base = options.idleMs ?? 20;
          await pause(Math.min(options.maxIdleMs ?? 200, base * 2 ** Math.min(Math.max(emptyPolls - 1, 0), 10)));
        } else if (!backlog && running) {
          await pause(options.batchWindowMs ?? 20);
        }
      } catch (error) {
        if (!running) return;
        // DynamoDB Local is down or restarting: retry with backoff, for as long as the service
        // runs (the supervisor decides when to give up on it).
        if (failures === 0) {
          console.error(`stream poller for ${options.tableName} paused: ${(error as Error).message}; retrying`);
        }
        failures += 1;
        await pause(Math.min(2000, 100 * 2 ** Math.min(failures, 5)));
      }
    }
  })();

  return {
    async stop() {
      running = false;
      await loop;
      streams.destroy();
    },
  };
}
