import { grants, type TokenLookup } from "../auth/tokens";
import { errorBody, type RequestLogger } from "../http";
import type { CompiledFlagSet, FlagSetCache, FlagView } from "./flagSet";
import { viewOf } from "./routes";
import { streamCredentialTokenId, verifyStreamCredential } from "./streamCredential";

/**
 * Where a stream's text goes, whatever carries it: a Node HTTP response locally, Lambda's response
 * stream on AWS, an array in tests.
 */
export interface EventSink {
  write(text: string): void;
  /** Bytes written and not yet taken by the client (a Writable's `writableLength`). */
  buffered(): number;
  end(): void;
  /** Called once when the client goes away or the stream ends. */
  onClose(listener: () => void): void;
}

/** What the stream handler reads of a request: the URL's query and the headers. */
export interface EventStreamRequest {
  readonly query: Readonly<Record<string, string | undefined>>;
  header(name: string): string | undefined;
}

/** The answer to a connect: a refusal with the contract's body, or a stream to run. */
export type EventStreamOpening =
  | { status: 200; headers: Record<string, string>; stream: (sink: EventSink) => Promise<void> }
  | { status: 401 | 403 | 503; headers: Record<string, string>; body: ReturnType<typeof errorBody> };

export interface EventStreamLimits {
  /** How often a stream looks at the (shared, cached) flag set for a change. */
  pollMs: number;
  /**
   * When the server ends a stream; the EventSource reconnects (after `retry`) with Last-Event-ID.
   * On AWS below the 15-minute limit of API Gateway's streaming and of a Lambda invocation.
   */
  maxDurationMs: number;
  /** A comment line after this long without a write, so no proxy takes the stream for idle. */
  heartbeatMs: number;
  /** A client that leaves more than this unread is closed (a reader that does not drain). */
  maxBufferedBytes: number;
}

export interface EventStreamDeps extends EventStreamLimits {
  flagSet: Pick<FlagSetCache, "get">;
  /** The token records; a credential's record is found by the id it names. */
  tokens: TokenLookup;
  logger: RequestLogger;
  clock?: () => number;
}

/** How long an EventSource waits before reconnecting (the SSE `retry` field). */
export const RETRY_MS = 1000;

/** Response headers of a stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  // Proxies that buffer responses (nginx) pass this one through as it comes.
  "X-Accel-Buffering": "no",
};

/** One `refetchEvaluation` notification (ADR-0008): `id` is the configuration's etag. */
export function refetchEvent(etag: string, lastModified: number): string {
  const data = JSON.stringify({ type: "refetchEvaluation", etag, lastModified });
  return `id: ${etag}\nevent: message\ndata: ${data}\n\n`;
}

const refuse = (
  status: 401 | 403 | 503,
  code: "UNAUTHENTICATED" | "FORBIDDEN" | "DEPENDENCY_UNAVAILABLE",
  message: string,
) =>
  ({
    status,
    headers: { "Content-Type": "application/json", ...(status === 503 ? { "Retry-After": "1" } : {}) },
    body: errorBody(code, message),
  }) as const;

/**
 * `GET /ofrep/v1/events?c=<credential>&v=<config etag>`: OFREP's event stream (ADR-0008), one per
 * client, independent of its transport. The URL's credential is checked before any stream byte
 * (401 otherwise: the EventSource gives up and the official provider re-fetches the bulk
 * evaluation, whose answer carries a fresh URL). Then the stream sends `retry`, a
 * `refetchEvaluation` at once when the client's configuration (Last-Event-ID, else `v`) is not the
 * current one — a change between its bulk request and its connect — or else an id-only event
 * (which sets Last-Event-ID and dispatches nothing); then one event per change the caller can see,
 * however many changes fell between two looks, and nothing for a change it cannot see.
 */
export function makeEventStreamHandler({
  flagSet,
  tokens,
  logger,
  clock = Date.now,
  pollMs,
  maxDurationMs,
  heartbeatMs,
  maxBufferedBytes,
}: EventStreamDeps): (request: EventStreamRequest) => Promise<EventStreamOpening> {
  const runStream = async (
    sink: EventSink,
    { initial, view, known, tokenId }: { initial: CompiledFlagSet; view: FlagView; known?: string; tokenId: string },
  ): Promise<void> => {
    const startedAt = clock();
    let closed = false;
    let wake: (() => void) | undefined;
    let lastWriteAt = startedAt;
    sink.onClose(() => {
      closed = true;
      wake?.();
    });
    const finish = () => {
      if (closed) return;
      closed = true;
      sink.end();
    };
    const send = (text: string) => {
      if (closed) return;
      sink.write(text);
      lastWriteAt = clock();
      if (sink.buffered() > maxBufferedBytes) {
        logger.warn("event stream closed: the client does not read", { tokenId, buffered: sink.buffered() });
        finish();
      }
    };
    // The timer is declared before the closure that clears it: Pulumi's serializer cannot
    // capture a variable a closure uses before its declaration.
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    const now = () => Math.floor(clock() / 1000);
    try {
      let etag = initial.etags[view];
      send(`retry: ${RETRY_MS}\n`);
      send(known === etag ? `id: ${etag}\n\n` : refetchEvent(etag, now()));
      while (!closed) {
        const remaining = startedAt + maxDurationMs - clock();
        if (remaining <= 0) break;
        await sleep(Math.min(pollMs, remaining));
        if (closed) break;
        const current = (await flagSet.get()).etags[view];
        if (current !== etag) {
          etag = current;
          send(refetchEvent(etag, now()));
        } else if (clock() - lastWriteAt >= heartbeatMs) {
          send(": ping\n\n");
        }
      }
    } catch (error) {
      // The flag store failed (or the sink did): end the stream; the client reconnects after `retry`.
      logger.error("event stream ended by a failure", { tokenId, error: error as Error });
    } finally {
      finish();
    }
  };

  return async (request) => {
    const now = clock();
    const id = streamCredentialTokenId(request.query.c, now);
    const principal =
      id === undefined ? undefined : verifyStreamCredential(request.query.c, await tokens.byId(id), now);
    if (principal === undefined) {
      logger.warn("event stream refused", { code: "UNAUTHENTICATED", status: 401 });
      return refuse(
        401,
        "UNAUTHENTICATED",
        "the stream URL's credential is missing, expired or revoked; evaluate again (POST /ofrep/v1/evaluate/flags) for a new URL",
      );
    }
    if (!grants(principal.scopes, "evaluate")) {
      return refuse(403, "FORBIDDEN", `token '${principal.tokenId}' lacks the 'evaluate' scope`);
    }
    const view = viewOf(principal.scopes);
    let initial: CompiledFlagSet;
    try {
      initial = await flagSet.get();
    } catch (error) {
      logger.error("event stream refused: the flag store failed", { error: error as Error });
      return refuse(503, "DEPENDENCY_UNAVAILABLE", "the flag store is unavailable; retry shortly");
    }
    return {
      status: 200,
      headers: { ...SSE_HEADERS },
      stream: (sink) =>
        runStream(sink, {
          initial,
          view,
          known: request.header("Last-Event-ID") ?? request.query.v,
          tokenId: principal.tokenId,
        }),
    };
  };
}
