import type { Logger } from "@aws-lambda-powertools/logger";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { principalFromContext } from "../auth/tokens";
import type { FlagStore } from "../flags/store";
import type { ConnectionStore } from "./connections";
import { coalesceRecords } from "./coalesce";
import type { EvaluatorSet } from "../evaluators/model";
import { changesEvaluators, isEvaluatorsRecord, readsOlderThan, type ServerMessage } from "./messages";
import type { Poster } from "./push";
import { type FanoutLimits, type InvokeWorker, makeFanOut } from "./scaleout";
import { type Evaluators, snapshotFrames } from "./snapshot";

/** The parts of an API Gateway WebSocket event these handlers read. */
export interface WebSocketEvent {
  requestContext: {
    connectionId: string;
    routeKey: string;
    /** The $connect authorizer's context (on $connect only). */
    authorizer?: Record<string, unknown> | null;
  };
  body?: string | null;
}

export interface WebSocketResult {
  statusCode: number;
  body?: string;
}

type RealtimeLogger = Pick<Logger, "info" | "warn" | "error">;

/** `$connect`: records the connection. The authorizer has already checked the token. */
export function makeConnectHandler({ connections }: { connections: ConnectionStore }) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const principal = principalFromContext(event.requestContext.authorizer);
    // Fails closed should the route ever be deployed without its authorizer.
    if (principal === undefined) return { statusCode: 401 };
    await connections.add(event.requestContext.connectionId, principal.tokenId);
    return { statusCode: 200 };
  };
}

/** `$disconnect`: forgets the connection. */
export function makeDisconnectHandler({ connections }: { connections: ConnectionStore }) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    await connections.remove(event.requestContext.connectionId);
    return { statusCode: 200 };
  };
}

export interface SnapshotDeps {
  flags: FlagStore;
  connections: ConnectionStore;
  post: Poster;
  logger: RealtimeLogger;
  /** The shared evaluators a snapshot carries in its first part. Default: none (`{}`). */
  evaluators?: () => Promise<Evaluators>;
  /** Waits between attempts on a connection that is not open yet. Default 200 ms, 3 attempts. */
  retryDelayMs?: number;
}

/**
 * How long after `$connect` a 410 may only mean the handshake has not completed yet (API Gateway
 * accepts posts once `$connect` has returned). Past it, a 410 means the client has left.
 */
export const HANDSHAKE_GRACE_MS = 2000;

/**
 * Reads the flag set as snapshot frames, and sends frames to one connection in order. A 410 on
 * the first frame within `HANDSHAKE_GRACE_MS` of the connection's `$connect` is retried a few
 * times; otherwise (or later in the snapshot) it means the client left, and its row is removed.
 */
function makeSendSnapshot({
  flags,
  connections,
  post,
  evaluators = async () => ({}),
  retryDelayMs = 200,
}: SnapshotDeps) {
  const read = async (): Promise<string[]> => {
    const [all, shared] = await Promise.all([flags.all(), evaluators()]);
    return snapshotFrames(all, shared);
  };
  /**
   * `connectedAt`: when `$connect` ran (ms; NaN if unknown), for a greeting; undefined for a
   * connection known to be open.
   */
  const send = async (connectionId: string, frames: string[], connectedAt?: number): Promise<void> => {
    for (let attempt = 1; (await post(connectionId, frames[0])) !== "sent"; attempt++) {
      // Written as "not past the grace" so that an unknown time (NaN) counts as still opening.
      const mayBeOpening = connectedAt !== undefined && !(Date.now() - connectedAt > HANDSHAKE_GRACE_MS);
      if (attempt === 3 || !mayBeOpening) return connections.remove(connectionId);
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    }
    for (const frame of frames.slice(1)) {
      if ((await post(connectionId, frame)) !== "sent") return connections.remove(connectionId);
    }
  };
  return { read, send };
}

/**
 * `$default`: `{"action": "sync"}` answers with a snapshot; `{"action": "ping"}` (a client's
 * keep-alive: API Gateway closes a connection after 10 idle minutes and counts only messages, and
 * browsers cannot send ping frames) with `{"type": "pong"}`; anything else with an error message.
 */
export function makeDefaultHandler(deps: SnapshotDeps) {
  const snapshot = makeSendSnapshot(deps);
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const connectionId = event.requestContext.connectionId;
    let action: unknown;
    try {
      action = (JSON.parse(event.body ?? "") as { action?: unknown })?.action;
    } catch {
      action = undefined;
    }
    if (action === "sync") {
      // A message came from it, so the connection is open: a 410 means it has just left.
      await snapshot.send(connectionId, await snapshot.read());
    } else if (action === "ping") {
      await deps.post(connectionId, { type: "pong" });
    } else {
      deps.logger.warn("unknown websocket message", { connectionId });
      await deps.post(connectionId, {
        type: "error",
        error: { code: "VALIDATION_FAILED", message: 'send {"action": "sync"} to receive a snapshot' },
      });
    }
    return { statusCode: 200 };
  };
}

/**
 * Connections-table stream (INSERTs only, by filter): greets each new connection with a snapshot.
 * The flag set is read once per batch, after every connection in it was recorded, so each gets
 * every change made before it connected (later ones reach it through the fan-out). A connection
 * that left before its greeting costs one post, not a round of retries: after a burst of short-lived
 * connections, the next client is still greeted at once.
 */
export function makeSnapshotHandler(deps: SnapshotDeps) {
  const snapshot = makeSendSnapshot(deps);
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    let frames: Promise<string[]> | undefined;
    return processPartialResponse(
      event,
      async (record: DynamoDBRecord) => {
        const row = unmarshall(record.dynamodb?.NewImage as Record<string, AttributeValue>);
        frames ??= snapshot.read();
        // A row without a readable time (NaN) counts as just connected: its first frame is retried.
        await snapshot.send(row.connectionId as string, await frames, Date.parse(row.connectedAt));
      },
      processor,
    );
  };
}

export interface FanoutDeps {
  connections: ConnectionStore;
  post: Poster;
  logger: RealtimeLogger;
  /** Connections posted to at once, in this invocation and in each worker. Default FANOUT_CONCURRENCY. */
  concurrency?: number;
}

/**
 * Posts one message to every connection, a page of connections at a time, in parallel up to
 * `concurrency`, all in this invocation. Connections API Gateway reports gone are deleted. Throws
 * if any post failed otherwise.
 */
export function makeBroadcast(deps: FanoutDeps) {
  const fanOut = makeFanOut(deps);
  return async (message: ServerMessage): Promise<{ sent: number; gone: number }> => {
    const { sent, gone, failed } = await fanOut([message]);
    if (failed.size > 0) throw new Error(`${message.type}: some posts failed`);
    deps.logger.info("broadcast", { type: message.type, sent, gone });
    return { sent, gone };
  };
}

export interface FanoutHandlerDeps extends FanoutDeps {
  /**
   * All shared evaluators with their history positions, read (strongly consistently) when the
   * evaluators table's stream reports a change to them.
   */
  evaluators?: () => Promise<EvaluatorSet>;
  /** Waits before reading the evaluators again after a read older than the stream. Default 100 ms. */
  staleReadDelayMs?: number;
  /**
   * Starts a fan-out worker on a segment of the connections (see `makeFanOut`). Without it every
   * fan-out runs in this invocation.
   */
  invokeWorker?: InvokeWorker;
  /** How the work is divided between this invocation and workers. */
  limits?: FanoutLimits;
}

/**
 * Flags-table stream: every create, update and delete reaches every connected client — one
 * message per flag per batch, its newest (see `coalesceRecords`). A flag whose posts fail is
 * reported from its first record in the batch, so the retry carries everything after it too.
 * Beyond one invocation's share of posts, the messages go to parallel workers (`makeFanOut`).
 *
 * Evaluators-table stream: a batch that creates, deletes or re-expresses an evaluator becomes one
 * `evaluators.updated` carrying all of them, read after the change; reference-count and flag-set
 * version records send nothing. A failed fan-out fails the batch (the message is idempotent).
 *
 * `evaluators.updated` never carries an older state than the change it announces. The stream
 * record exists only once its write has committed, and the evaluators are read with a strongly
 * consistent Scan (an eventually consistent one, DynamoDB's default, may miss a write that was
 * acknowledged a moment ago), which reflects every write committed before it. And the read is
 * checked against the records rather than trusted: each evaluator item carries its history
 * position, which only grows, so a read that shows any evaluator older than the batch's newest
 * record of it (or still shows one the batch deleted) is read again, and after a few tries the
 * batch fails and the stream retries it — no message at all rather than a stale one. (A read
 * without an evaluator the batch created is taken as newer — deleted since — for absence carries
 * no position; there the consistent read alone is the guarantee.)
 */
export function makeFanoutHandler(deps: FanoutHandlerDeps) {
  const fanOut = makeFanOut(deps);
  const STALE_READ_ATTEMPTS = 3;
  const readEvaluators = async (records: DynamoDBRecord[]): Promise<Evaluators> => {
    if (deps.evaluators === undefined)
      throw new Error("evaluator records reached a fan-out without an evaluator source");
    for (let attempt = 1; ; attempt++) {
      const read = await deps.evaluators();
      if (!readsOlderThan(records, read.positions)) return read.expressions;
      if (attempt === STALE_READ_ATTEMPTS) {
        throw new Error("the evaluators read are older than the stream records announce; the stream will retry");
      }
      await new Promise((resolve) => setTimeout(resolve, (deps.staleReadDelayMs ?? 100) * attempt));
    }
  };
  const evaluatorsChanged = async (records: DynamoDBRecord[]): Promise<DynamoDBBatchResponse> => {
    if (!records.some(changesEvaluators)) return { batchItemFailures: [] };
    const message: ServerMessage = { type: "evaluators.updated", evaluators: await readEvaluators(records) };
    const delivery = await fanOut([message]).catch((error: unknown) => {
      deps.logger.error("fan-out of evaluators failed; the stream will retry it", { error: error as Error });
      throw error;
    });
    if (delivery.failed.size > 0) {
      deps.logger.error("fan-out of evaluators failed; the stream will retry it", { sent: delivery.sent });
      throw new Error("evaluators.updated: some posts failed");
    }
    return { batchItemFailures: [] };
  };
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    // Each event source mapping invokes with records of its own stream only.
    if (event.Records.length > 0 && event.Records.every(isEvaluatorsRecord)) return evaluatorsChanged(event.Records);
    const changes = coalesceRecords(event.Records.filter((record) => !isEvaluatorsRecord(record)));
    if (changes.length === 0) return { batchItemFailures: [] };
    const delivery = await fanOut(changes.map((change) => change.message)).catch((error: unknown) => {
      deps.logger.error("fan-out of a batch failed; the stream will retry it", { error: error as Error });
      throw error;
    });
    if (delivery.failed.size === 0) return { batchItemFailures: [] };
    const failed = new Set([...delivery.failed].map((index) => changes[index]));
    deps.logger.error("fan-out of a change failed; the stream will retry it", {
      flagNames: [...failed].map((change) => change.flagName),
    });
    // As Powertools does: a batch where everything failed fails the invocation, so Lambda bisects it.
    if (failed.size === changes.length) throw new Error(`All records failed processing. ${failed.size} changes failed`);
    const firstRecords = new Set([...failed].map((change) => change.firstRecord));
    const first = event.Records.find((record) => firstRecords.has(record));
    return { batchItemFailures: [{ itemIdentifier: first?.dynamodb?.SequenceNumber ?? "" }] };
  };
}
