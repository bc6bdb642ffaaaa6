import type { Logger } from "@aws-lambda-powertools/logger";
import type { ConnectionStore } from "./connections";
import type { ServerMessage } from "./messages";
import { type Poster, settleBounded } from "./push";
import { FANOUT_CONCURRENCY, INVOKE_PAYLOAD_BYTES, MAX_FANOUT_WORKERS, POSTS_PER_INVOCATION } from "./table";

/** What the fan-out consumer hands one worker invocation: messages for one scan segment. */
export interface FanoutWorkerEvent {
  /** This worker's segment of a parallel Scan of the connections table (0-based). */
  segment: number;
  totalSegments: number;
  /** The messages, serialized once by the consumer, posted in this order to each connection. */
  messages: string[];
}

/**
 * Runs one worker invocation and resolves when it has finished, rejecting if it failed or did not
 * answer in time (on AWS: `makeWorkerInvoker` over Invoke with InvocationType RequestResponse).
 * Waiting keeps the stream's order: a batch's messages are all delivered before the next batch's
 * start, as when one invocation posted them.
 */
export type InvokeWorker = (event: FanoutWorkerEvent) => Promise<void>;

/**
 * Seconds a fan-out worker may run (its Lambda timeout). The consumer that waits for it may run
 * 300 (STREAM_CONSUMER_TIMEOUT_SECONDS in components/realtime.ts): the worker's timeout, plus a
 * cold start's init, plus the consumer's own reads before it invokes, must stay below that, or a
 * slow worker would time the consumer out and its whole batch would be retried. 240 s is 240,000
 * posts' worth at the measured ~1,000 a second per vCPU, far above one worker's share (1,000).
 */
export const FANOUT_WORKER_TIMEOUT_SECONDS = 240;

/** Seconds Lambda allows an on-demand function's init phase, which runs before its timeout starts. */
export const LAMBDA_INIT_SECONDS = 10;

/**
 * How long the consumer waits for one worker: the worker's timeout and a cold start's init. By
 * then Lambda has answered (a timeout is a function error); past it, without an answer, the
 * consumer stops waiting and counts the worker's messages failed.
 */
export const FANOUT_WORKER_WAIT_MS = (FANOUT_WORKER_TIMEOUT_SECONDS + LAMBDA_INIT_SECONDS) * 1000;

/** What Lambda's Invoke answers, as far as a worker's invoker reads it. */
export interface WorkerInvocationResult {
  /** Set when the worker failed: it threw, timed out, or ran out of memory. */
  FunctionError?: string;
  Payload?: Uint8Array;
}

/**
 * An InvokeWorker over a synchronous Invoke (`invoke` sends the event, honouring `signal`): it
 * rejects when the worker failed, and when `waitMs` pass without an answer (the signal aborts
 * the request). Either way the fan-out counts the worker's messages failed and the stream retries
 * them, so nothing is lost; a worker still running may deliver them too (a client may see a
 * message twice; the version tells it).
 */
export function makeWorkerInvoker(
  invoke: (payload: string, signal: AbortSignal) => Promise<WorkerInvocationResult>,
  waitMs = FANOUT_WORKER_WAIT_MS,
): InvokeWorker {
  return async (event) => {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`fan-out worker did not answer within ${waitMs} ms`)),
      waitMs,
    );
    // Rejects at the deadline even if `invoke` ignored the signal.
    const late = new Promise<never>((_, reject) =>
      deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), { once: true }),
    );
    try {
      const result = await Promise.race([invoke(JSON.stringify(event), deadline.signal), late]);
      if (result.FunctionError !== undefined) {
        const detail = result.Payload === undefined ? "" : Buffer.from(result.Payload).toString("utf8").slice(0, 500);
        throw new Error(`fan-out worker failed (${result.FunctionError}): ${detail}`);
      }
    } finally {
      clearTimeout(timer);
    }
  };
}

/** How one fan-out divides its work (see `planFanout`). */
export interface FanoutLimits {
  /** Posts (connections × messages) one invocation makes. Default POSTS_PER_INVOCATION. */
  postsPerInvocation?: number;
  /** The most scan segments (parallel workers per message chunk). Default MAX_FANOUT_WORKERS. */
  maxWorkers?: number;
  /** Bytes of one worker event. Default INVOKE_PAYLOAD_BYTES. */
  payloadBytes?: number;
}

/**
 * How many connections one invocation serves when it has `messages` messages to post: its share
 * of posts, at least one connection. The consumer reads this many and, if that was all, posts
 * itself — a small fan-out costs no extra invocation.
 */
export function inlineConnectionLimit(messages: number, postsPerInvocation = POSTS_PER_INVOCATION): number {
  return Math.max(1, Math.floor(postsPerInvocation / Math.max(1, messages)));
}

/**
 * Segments of the parallel Scan for `connections` (an estimate) × `messages` posts: one per
 * invocation's share, at least 2 (one invocation's share was exceeded to get here), at most
 * `maxWorkers`.
 */
export function segmentCount(
  connections: number,
  messages: number,
  { postsPerInvocation = POSTS_PER_INVOCATION, maxWorkers = MAX_FANOUT_WORKERS }: FanoutLimits = {},
): number {
  const needed = Math.ceil((Math.max(0, connections) * Math.max(1, messages)) / postsPerInvocation);
  return Math.max(2, Math.min(maxWorkers, needed));
}

/** Bytes of a worker event carrying `messages` (JSON, each message a JSON string inside it). */
export function workerEventBytes(event: FanoutWorkerEvent): number {
  return Buffer.byteLength(JSON.stringify(event));
}

/**
 * Splits serialized messages, in order, into groups whose worker event stays within `maxBytes`.
 * A message is at most API Gateway's 128 KB, so one always fits a 6 MB event.
 */
export function chunkMessages(messages: readonly string[], maxBytes = INVOKE_PAYLOAD_BYTES): string[][] {
  // The envelope with the largest numbers a segment can have, and no messages.
  const envelope = workerEventBytes({ segment: 1e6, totalSegments: 1e6, messages: [] });
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = envelope;
  for (const message of messages) {
    const bytes = Buffer.byteLength(JSON.stringify(message)) + 1; // and its comma
    if (envelope + bytes > maxBytes) throw new RangeError(`a ${bytes}-byte message exceeds a worker event`);
    if (size + bytes > maxBytes && current.length > 0) {
      chunks.push(current);
      current = [];
      size = envelope;
    }
    current.push(message);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One event per segment and message chunk: every connection gets every message exactly once. */
export function workerEvents(totalSegments: number, chunks: readonly string[][]): FanoutWorkerEvent[] {
  return Array.from({ length: totalSegments }, (_, segment) =>
    chunks.map((messages) => ({ segment, totalSegments, messages: [...messages] })),
  ).flat();
}

/** The outcome of posting messages to a set of connections. */
export interface Delivery {
  /** Posts that reached their connection. */
  sent: number;
  /** Connections API Gateway reported gone (410), now deleted. */
  gone: number;
  /** Indexes of the messages that failed for some connection other than by 410. */
  failed: Set<number>;
}

/** Connection ids: a list, or pages of them (`ConnectionStore.pages`), read while earlier ones are posted to. */
export type ConnectionIds = readonly string[] | AsyncIterable<readonly string[]>;

/**
 * Posts `messages`, in order, to each connection of `source`, `concurrency` connections at a time;
 * a connection reported gone gets nothing more and its row is deleted. Pages are one stream: the
 * first posts go out once the first page is read, the next page is asked for before this one
 * runs out, and no page waits for the slowest post of the one before. Each connection is posted
 * to once. If reading a page fails, the connections already read are still posted to (and the
 * gone deleted), then the read's error is thrown.
 */
export async function deliver(
  source: ConnectionIds,
  messages: ReadonlyArray<ServerMessage | string>,
  { post, connections, concurrency }: { post: Poster; connections: ConnectionStore; concurrency: number },
): Promise<Delivery> {
  // Not p-map 7 (+2.2 KB minified per bundle; it loads under ts-node through require(esm)): it
  // asks its AsyncIterable for the next id only when a post ends, so every slot would wait out
  // each page's Scan, and a failed read rejects at once while posts run; this paging would stay.
  const pages = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : undefined;
  // Ids read and not yet taken: `current` from `at` on, then the pages in `ahead`.
  let current: readonly string[] = pages === undefined ? (source as readonly string[]) : [];
  let at = 0;
  const ahead: Array<readonly string[]> = [];
  let exhausted = pages === undefined;
  let readFailure: { error: unknown } | undefined;
  let reading: Promise<void> | undefined;
  const read = (): Promise<void> =>
    (reading ??= (pages as AsyncIterator<readonly string[]>)
      .next()
      .then(
        (page) => {
          if (page.done === true) exhausted = true;
          else if (page.value.length > 0) ahead.push(page.value);
        },
        (error: unknown) => {
          readFailure = { error };
          exhausted = true;
        },
      )
      .finally(() => {
        reading = undefined;
      }));
  const take = async (): Promise<string | undefined> => {
    for (;;) {
      if (at < current.length) {
        // Ask for the next page while this one still has a round of posts left.
        if (!exhausted && ahead.length === 0 && current.length - at <= concurrency) void read();
        return current[at++];
      }
      const next = ahead.shift();
      if (next !== undefined) {
        current = next;
        at = 0;
      } else if (exhausted) {
        return undefined;
      } else {
        await read();
      }
    }
  };

  const failed = new Set<number>();
  const goneIds: string[] = [];
  let sent = 0;
  const postAll = async (id: string): Promise<void> => {
    for (const [index, message] of messages.entries()) {
      try {
        if ((await post(id, message)) === "gone") {
          goneIds.push(id);
          return;
        }
        sent += 1;
      } catch {
        failed.add(index);
      }
    }
  };
  const worker = async () => {
    for (let id = await take(); id !== undefined; id = await take()) await postAll(id);
  };
  const workers = pages === undefined ? Math.min(concurrency, current.length) : concurrency;
  await Promise.all(Array.from({ length: workers }, worker));

  const removals = await settleBounded(goneIds, concurrency, (id) => connections.remove(id));
  if (readFailure !== undefined) throw readFailure.error;
  const notRemoved = removals.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (notRemoved !== undefined) throw notRemoved.reason;
  return { sent, gone: goneIds.length, failed };
}

type FanoutLogger = Pick<Logger, "info" | "warn" | "error">;

export interface FanoutWorkerDeps {
  connections: ConnectionStore;
  post: Poster;
  logger: FanoutLogger;
  /** Connections posted to at once. Default FANOUT_CONCURRENCY. */
  concurrency?: number;
}

function isWorkerEvent(event: unknown): event is FanoutWorkerEvent {
  const e = event as Partial<FanoutWorkerEvent> | null;
  return (
    e !== null &&
    typeof e === "object" &&
    Number.isInteger(e.totalSegments) &&
    (e.totalSegments as number) >= 1 &&
    Number.isInteger(e.segment) &&
    (e.segment as number) >= 0 &&
    (e.segment as number) < (e.totalSegments as number) &&
    Array.isArray(e.messages) &&
    e.messages.every((m) => typeof m === "string")
  );
}

/**
 * The fan-out worker (invoked by the fan-out consumer, which waits for it, at most
 * FANOUT_WORKER_WAIT_MS): posts the event's
 * messages to every connection of its scan segment, page by page, deleting the gone. Throws if
 * any post failed otherwise: the consumer then reports the batch's messages failed and the
 * stream retries them (clients may see a message twice; the version tells them).
 */
export function makeFanoutWorkerHandler({
  connections,
  post,
  logger,
  concurrency = FANOUT_CONCURRENCY,
}: FanoutWorkerDeps) {
  return async (event: unknown): Promise<{ sent: number; gone: number }> => {
    if (!isWorkerEvent(event)) {
      // Only the consumer invokes this; a malformed event is a fault, not something to retry into success.
      throw new TypeError("not a fan-out worker event: { segment, totalSegments, messages: string[] }");
    }
    const { sent, gone, failed } = await deliver(connections.pages(event), event.messages, {
      post,
      connections,
      concurrency,
    });
    const { segment, totalSegments } = event;
    if (failed.size > 0) {
      throw new Error(`segment ${segment}/${totalSegments}: ${failed.size} messages failed for some connection`);
    }
    logger.info("fan-out segment", { segment, totalSegments, messages: event.messages.length, sent, gone });
    return { sent, gone };
  };
}

export interface FanOutDeps {
  connections: ConnectionStore;
  post: Poster;
  logger: FanoutLogger;
  concurrency?: number;
  /** Starts a worker; without one, every fan-out runs in this invocation (as before scale-out). */
  invokeWorker?: InvokeWorker;
  limits?: FanoutLimits;
}

/**
 * Sends `messages` to every connection. Without `invokeWorker`, here, page after page. With it,
 * it reads one invocation's share of connections and, if that was all of them, posts them here;
 * otherwise it serializes the messages once and hands each segment of a parallel Scan to a worker
 * invocation, as many segments as the table's item count needs, all at once, and waits for them.
 * Resolves with the indexes of the messages that failed for some connection: those of a worker
 * that failed or could not be started (the stream retries them: clients may see a message twice,
 * never miss one).
 */
export function makeFanOut({
  connections,
  post,
  logger,
  concurrency = FANOUT_CONCURRENCY,
  invokeWorker,
  limits = {},
}: FanOutDeps) {
  const here = (ids: ConnectionIds, messages: readonly ServerMessage[]) =>
    deliver(ids, messages, { post, connections, concurrency });
  return async (messages: readonly ServerMessage[]): Promise<Delivery & { workers: number }> => {
    if (invokeWorker === undefined) return { ...(await here(connections.pages(), messages)), workers: 0 };
    const first = await connections.first(inlineConnectionLimit(messages.length, limits.postsPerInvocation));
    if (first.complete) return { ...(await here(first.ids, messages)), workers: 0 };

    const estimate = Math.max(await connections.approximateCount(), first.ids.length + 1);
    const segments = segmentCount(estimate, messages.length, limits);
    const serialized = messages.map((message) => JSON.stringify(message));
    const chunks = chunkMessages(serialized, limits.payloadBytes);
    const events = workerEvents(segments, chunks);
    // Every worker at once (not `concurrency` at a time): each is a separate execution environment.
    const outcomes = await Promise.allSettled(events.map((event) => invokeWorker(event)));
    const failed = new Set<number>();
    let firstError: unknown;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") return;
      firstError ??= outcome.reason;
      // Messages are distinct (one per flag, or the one evaluators.updated): map them back by content.
      for (const message of events[i].messages) failed.add(serialized.indexOf(message));
    });
    const failedWorkers = outcomes.filter((o) => o.status === "rejected").length;
    if (failedWorkers > 0) {
      logger.warn("fan-out workers failed", { failedWorkers, of: events.length, error: firstError as Error });
    }
    logger.info("fan-out scaled out", { estimate, segments, chunks: chunks.length, messages: messages.length });
    return { sent: 0, gone: 0, failed, workers: events.length };
  };
}
