/** The local service's OFREP event streams (SSE): the same stream handler as on AWS, over Node's HTTP response. */
import type * as http from "node:http";
import type { Logger } from "@aws-lambda-powertools/logger";
import { recordLookup, type TokenRecord } from "../handlers/auth/tokens";
import { corsHeaders, errorBody } from "../handlers/http";
import { type EventSink, type EventStreamLimits, makeEventStreamHandler } from "../handlers/ofrep/events";
import type { FlagSetCache } from "../handlers/ofrep/flagSet";

/** What the local streams may cost, and how often they look for changes. */
export interface LocalEventStreamLimits extends EventStreamLimits {
  /** Streams open at once; one more is refused with 503 (the client retries with backoff). */
  maxStreams: number;
}

export const DEFAULT_LOCAL_EVENT_STREAM_LIMITS: LocalEventStreamLimits = {
  // The streams share one flag-set cache checked this often (one GetItem per check for all of
  // them), so a change reaches every stream within about this much: p50 well under 250 ms.
  pollMs: 50,
  // As on AWS (below API Gateway's 15-minute streaming limit): the client's reconnect is exercised.
  maxDurationMs: 14 * 60_000,
  heartbeatMs: 25_000,
  maxBufferedBytes: 64 * 1024,
  maxStreams: 1000,
};

export interface LocalEventStreams {
  /** Answers `GET /ofrep/v1/events` on this request. */
  serve(request: http.IncomingMessage, response: http.ServerResponse, url: URL): Promise<void>;
  /** Streams open now. */
  open(): number;
  /** Ends every open stream (service stop). */
  closeAll(): void;
}

/** Node's response as the stream handler's sink. */
function responseSink(response: http.ServerResponse): EventSink {
  return {
    write: (text) => {
      if (!response.destroyed && !response.writableEnded) response.write(text);
    },
    buffered: () => response.writableLength + (response.socket?.writableLength ?? 0),
    end: () => {
      if (!response.writableEnded) response.end();
    },
    onClose: (listener) => {
      response.once("close", listener);
    },
  };
}

/** Step: the event streams, over a flag-set cache of their own (`flagSet`, shared by all streams). */
export function makeLocalEventStreams({
  flagSet,
  tokenRecords,
  logger,
  corsOrigins = [],
  limits = {},
}: {
  flagSet: Pick<FlagSetCache, "get">;
  tokenRecords: readonly TokenRecord[];
  logger: Logger;
  corsOrigins?: readonly string[];
  limits?: Partial<LocalEventStreamLimits>;
}): LocalEventStreams {
  const { maxStreams, ...streamLimits } = { ...DEFAULT_LOCAL_EVENT_STREAM_LIMITS, ...limits };
  const open = new Set<http.ServerResponse>();
  const handler = makeEventStreamHandler({ flagSet, tokens: recordLookup(tokenRecords), logger, ...streamLimits });

  return {
    async serve(request, response, url) {
      const cors = corsHeaders(request.headers.origin, corsOrigins);
      if (open.size >= maxStreams) {
        logger.warn("event stream refused", { code: "DEPENDENCY_UNAVAILABLE", status: 503, open: open.size });
        response.writeHead(503, { "Content-Type": "application/json", "Retry-After": "5", ...cors });
        response.end(
          JSON.stringify(errorBody("DEPENDENCY_UNAVAILABLE", `${maxStreams} event streams are open; retry shortly`)),
        );
        return;
      }
      // Counted from now, before anything is awaited, so concurrent connects cannot pass the cap.
      open.add(response);
      try {
        const opening = await handler({
          query: Object.fromEntries(url.searchParams),
          header: (name) => {
            const value = request.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(",") : value;
          },
        });
        if (opening.status !== 200) {
          response.writeHead(opening.status, { ...opening.headers, ...cors });
          response.end(JSON.stringify(opening.body));
          return;
        }
        response.writeHead(200, { ...opening.headers, ...cors });
        await opening.stream(responseSink(response));
      } finally {
        open.delete(response);
      }
    },
    open: () => open.size,
    closeAll() {
      for (const response of open) response.destroy();
    },
  };
}
