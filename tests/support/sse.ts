/**
 * A small Server-Sent Events reader over Node's fetch, parsing the stream as the WHATWG
 * EventSource does (fields `id`, `event`, `data`, `retry`; `:` comments; an event per blank
 * line), but exposing what a test needs: every block as sent, including those that dispatch
 * nothing in a browser (id-only, retry-only, comments).
 */
export interface SseBlock {
  /** `id` field, when the block has one. */
  id?: string;
  event?: string;
  /** `data` lines joined with `\n`; undefined when the block has none. */
  data?: string;
  retry?: number;
  /** Comment lines (without the leading `:`). */
  comments: string[];
  /** When the block arrived (Date.now()). */
  at: number;
}

export interface SseConnection {
  status: number;
  headers: Headers;
  /** The body of a refusal (JSON), undefined for a stream. */
  body?: unknown;
  /** Every block received so far. */
  readonly blocks: SseBlock[];
  /** Waits for the next block matching `match` (from those not yet taken), or fails after `ms`. */
  next(match?: (block: SseBlock) => boolean, ms?: number): Promise<SseBlock>;
  /** Passes over every block received so far: `next` waits for later ones. */
  skipReceived(): void;
  /** Resolves once the server ended the stream (or it broke). */
  readonly ended: Promise<void>;
  /** Whether the stream has ended. */
  isEnded(): boolean;
  close(): void;
}

/** Parses one block of lines (without the blank line that ends it). */
export function parseBlock(lines: string[], at = Date.now()): SseBlock {
  const block: SseBlock = { comments: [], at };
  const data: string[] = [];
  for (const line of lines) {
    if (line.startsWith(":")) {
      block.comments.push(line.slice(1).trimStart());
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "id") block.id = value;
    else if (field === "event") block.event = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) block.retry = Number(value);
  }
  if (data.length > 0) block.data = data.join("\n");
  return block;
}

/** Connects to an event stream URL (GET, `Accept: text/event-stream`). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { Accept: "text/event-stream", ...headers },
    signal: abort.signal,
  });
  const blocks: SseBlock[] = [];
  let taken = 0;
  const waiters: Array<() => void> = [];
  const notify = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  let ended = false;
  if (response.status !== 200 || !response.headers.get("content-type")?.startsWith("text/event-stream")) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text.length > 0 ? JSON.parse(text) : undefined,
      blocks,
      next: () => Promise.reject(new Error(`no stream: ${response.status} ${text}`)),
      skipReceived: () => undefined,
      ended: Promise.resolve(),
      isEnded: () => true,
      close: () => undefined,
    };
  }
  const read = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    let lines: string[] = [];
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
          if (line === "") {
            if (lines.length > 0) blocks.push(parseBlock(lines));
            lines = [];
            notify();
          } else {
            lines.push(line);
          }
        }
      }
    } catch {
      // Aborted by close(), or cut by the server: either way the stream has ended.
    } finally {
      ended = true;
      notify();
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    blocks,
    async next(match = () => true, ms = 2000) {
      const deadline = Date.now() + ms;
      for (;;) {
        while (taken < blocks.length) {
          const block = blocks[taken++];
          if (match(block)) return block;
        }
        if (ended) throw new Error(`the stream ended; blocks: ${JSON.stringify(blocks)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching block within ${ms} ms; blocks: ${JSON.stringify(blocks)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    skipReceived: () => {
      taken = blocks.length;
    },
    ended: read,
    isEnded: () => ended,
    close: () => abort.abort(),
  };
}

/** The `refetchEvaluation` payload of a block, or undefined for any other block. */
export function refetchOf(block: SseBlock): { type: string; etag: string; lastModified: number } | undefined {
  if (block.data === undefined) return undefined;
  const data = JSON.parse(block.data) as { type?: string; etag: string; lastModified: number };
  return data.type === "refetchEvaluation" ? (data as { type: string; etag: string; lastModified: number }) : undefined;
}
