import { FLAG_SET_KEY } from "../evaluators/table";
import { STAMP_ATTRIBUTE } from "../flags/stamp";

/** The connections table's shape, shared by the Realtime component and the local runtime. */
export const CONNECTIONS_TABLE = {
  hashKey: "connectionId",
  attributes: [{ name: "connectionId", type: "S" }],
  /** Epoch seconds after which DynamoDB TTL removes a row whose $disconnect never arrived. */
  ttlAttribute: "expiresAt",
  /** The snapshot sender only needs the new row. */
  streamViewType: "NEW_IMAGE",
} as const;

/** API Gateway closes a WebSocket after 2 hours at most; a row may outlive that by a margin. */
export const CONNECTION_TTL_SECONDS = 3 * 60 * 60;

/**
 * Event-source filter for the snapshot sender: new connections only. The Lambda event source
 * mapping and the local stream poller both apply it.
 */
export const SNAPSHOT_FILTER = { eventName: ["INSERT"] } as const;

/**
 * Event-source filter for the fan-out on the evaluators table's stream: evaluator items only, not
 * the flag-set version item every write bumps. Whether a record changes an expression (rather than
 * a reference count) needs both images, which a filter cannot compare: the fan-out checks that
 * (`changesEvaluators`). The Lambda event source mapping and the local stream poller both apply it.
 */
export const EVALUATORS_FILTER = {
  dynamodb: { Keys: { name: { S: [{ "anything-but": [FLAG_SET_KEY] }] } } },
} as const;

/**
 * Event-source filters for every consumer of the flags table's stream (the fan-out's event source
 * mapping, the audit Pipe, and the local pollers standing in for both): a record passes when it
 * matches any of them. Creates and deletes always pass; a MODIFY passes only when its new image
 * carries no stamp marker (../flags/stamp.ts): an update removes it, while a `lastAccessed`,
 * `lastEvaluated` or pre-delete stamp sets it. So a stamp costs no invocation, no Pipe event and
 * no Firehose record. (`exists` works on leaf nodes only, hence the attribute's type `S`.)
 */
export const FLAGS_STREAM_FILTERS = [
  { eventName: ["INSERT", "REMOVE"] },
  { eventName: ["MODIFY"], dynamodb: { NewImage: { [STAMP_ATTRIBUTE]: { S: [{ exists: false }] } } } },
] as const;

/** Stream consumer settings, shared by the event source mappings and the local pollers. */
export const STREAM_CONSUMER = {
  batchSize: 100,
  /** Retries of a failing batch (halved each time by bisecting) before it goes to the DLQ. */
  maximumRetryAttempts: 5,
  maximumRecordAgeInSeconds: 3600,
} as const;

/**
 * Posts to connections in flight at once during a fan-out (and sockets kept open to API Gateway):
 * 1,000 posts wait 5 rounds of one post's latency instead of 10 at 100. Timing the parallel
 * fan-out alone, 200 beat 100 and 250; the bench's ratio, CPU-bound on a shared machine, did not
 * move measurably (BENCHMARKS.md, fan-out). One invocation then peaks at about 200 / 20 ms =
 * 10,000 posts/s — API Gateway's default account rate; its burst of 5,000 covers a 1,000-post
 * fan-out, and the poster backs off on a 429.
 */
export const FANOUT_CONCURRENCY = 200;

/**
 * Rows of the first page (`Limit`) of the fan-out's connection Scan — one round of posts: posting
 * starts once it is read, while the rest is read in pages of DynamoDB's own size (≤ 1 MB, no
 * `Limit`, so no trailing empty page). Measured locally, pages of 250 throughout were slower than
 * one Scan: each request has its own overhead, and the reads then trail the posts. On AWS this is
 * one Scan request more per fan-out (or worker segment) and, as a Scan is billed per request for
 * the bytes it reads rounded up to 4 KB, at most 0.5 RCU more (BENCHMARKS.md, fan-out).
 */
export const SCAN_FIRST_PAGE_ROWS = FANOUT_CONCURRENCY;

/**
 * Posts one invocation makes in a fan-out (connections × messages): a batch that needs more is
 * handed to parallel worker invocations, each a segment of a parallel Scan of the connections
 * table. 1,000 posts at 200 in flight take ~0.5 s on one vCPU (see BENCHMARKS.md).
 */
export const POSTS_PER_INVOCATION = 1000;

/** The most worker segments one fan-out uses: 100 × 1,000 posts covers 100,000 connections. */
export const MAX_FANOUT_WORKERS = 100;

/**
 * Bytes of one worker event: Lambda allows 6 MB for a synchronous Invoke (API_Invoke); a fan-out
 * whose messages exceed it sends them in several invocations per segment.
 */
export const INVOKE_PAYLOAD_BYTES = 6_000_000;
