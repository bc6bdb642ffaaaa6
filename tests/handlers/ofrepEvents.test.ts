import { strict as assert } from "node:assert";
import { hashToken, recordLookup, type TokenRecord } from "../../handlers/auth/tokens";
import { type EventSink, makeEventStreamHandler } from "../../handlers/ofrep/events";
import type { CompiledFlagSet } from "../../handlers/ofrep/flagSet";
import {
  CREDENTIAL_WINDOW_SECONDS,
  issueStreamCredential,
  verifyStreamCredential,
} from "../../handlers/ofrep/streamCredential";
import { parseBlock } from "../support/sse";

const RECORDS: TokenRecord[] = [
  { id: "web.shop.v2", sha256: hashToken("a-client-key-0123456789abcdef"), scopes: ["evaluate"] },
  { id: "reader", sha256: hashToken("a-read-token-0123456789abcdef"), scopes: ["read"] },
];
const WINDOW_MS = CREDENTIAL_WINDOW_SECONDS * 1000;

describe("OFREP stream credential", () => {
  const start = 1_800_000_000_000 - (1_800_000_000_000 % WINDOW_MS);

  it("is the same all through a window, so the bulk body and its ETag stay the same", () => {
    const first = issueStreamCredential(RECORDS[0], start);
    assert.equal(issueStreamCredential(RECORDS[0], start + WINDOW_MS - 1), first);
    assert.notEqual(issueStreamCredential(RECORDS[0], start + WINDOW_MS), first);
  });

  it("is valid for 15 to 30 minutes after it is issued, then refused", () => {
    const credential = issueStreamCredential(RECORDS[0], start + WINDOW_MS - 1);
    assert.deepEqual(verifyStreamCredential(credential, RECORDS, start + 2 * WINDOW_MS - 1), {
      tokenId: "web.shop.v2",
      scopes: ["evaluate"],
    });
    assert.equal(verifyStreamCredential(credential, RECORDS, start + 2 * WINDOW_MS), undefined);
  });

  it("reads a token id holding dots, and refuses another token's id on the same signature", () => {
    const credential = issueStreamCredential(RECORDS[0], start);
    assert.equal(verifyStreamCredential(credential, RECORDS, start)?.tokenId, "web.shop.v2");
    const forged = credential.replace(/^web\.shop\.v2/, "reader");
    assert.equal(verifyStreamCredential(forged, RECORDS, start), undefined);
  });

  it("does not contain the token or its hash", () => {
    const credential = issueStreamCredential(RECORDS[0], start);
    assert.ok(!credential.includes("a-client-key"));
    assert.ok(!credential.includes(RECORDS[0].sha256));
    assert.ok(!credential.includes(Buffer.from(RECORDS[0].sha256, "hex").toString("base64url")));
  });
});

/** A flag set whose etags the test moves. */
function fakeFlagSet() {
  const state = { all: "all-1", clientSide: "cs-1", fail: false, gets: 0 };
  return {
    state,
    get: async (): Promise<CompiledFlagSet> => {
      state.gets++;
      if (state.fail) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return { version: 1, flags: new Map(), etags: { all: state.all, clientSide: state.clientSide } };
    },
  };
}

/** A sink that records what it is given; `stuck` makes it keep everything unread. */
function recordingSink({ stuck = false } = {}) {
  let text = "";
  let unread = 0;
  let ended = false;
  const listeners: Array<() => void> = [];
  const sink: EventSink = {
    write: (chunk) => {
      text += chunk;
      if (stuck) unread += chunk.length;
    },
    buffered: () => unread,
    end: () => {
      ended = true;
      for (const listener of listeners.splice(0)) listener();
    },
    onClose: (listener) => listeners.push(listener),
  };
  return {
    sink,
    blocks: () =>
      text
        .split("\n\n")
        .filter((block) => block !== "")
        .map((block) => parseBlock(block.split("\n"))),
    ended: () => ended,
    /** The client goes away. */
    disconnect: () => {
      for (const listener of listeners.splice(0)) listener();
    },
  };
}

const logger = () => {
  const lines: Array<[string, string]> = [];
  return {
    lines,
    warn: (message: string) => lines.push(["warn", message]),
    error: (message: string) => lines.push(["error", message]),
  };
};

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("OFREP event stream handler", () => {
  const credential = issueStreamCredential(RECORDS[0], Date.now());
  const handlerWith = (flagSet: ReturnType<typeof fakeFlagSet>, overrides: Record<string, unknown> = {}) => {
    const log = logger();
    const handler = makeEventStreamHandler({
      flagSet,
      tokens: recordLookup(RECORDS),
      logger: log,
      pollMs: 10,
      maxDurationMs: 60_000,
      heartbeatMs: 60_000,
      maxBufferedBytes: 1024,
      ...overrides,
    });
    return { handler, log };
  };
  const open = async (handler: ReturnType<typeof handlerWith>["handler"], query = { c: credential, v: "cs-1" }) => {
    const opening = await handler({ query, header: () => undefined });
    assert.equal(opening.status, 200);
    return opening as Extract<typeof opening, { status: 200 }>;
  };

  it("sends one event for several changes between two looks, carrying the newest etag", async () => {
    const flagSet = fakeFlagSet();
    const { handler } = handlerWith(flagSet, { pollMs: 100 });
    const recorder = recordingSink();
    const running = (await open(handler)).stream(recorder.sink);
    await wait(20);
    for (const etag of ["cs-2", "cs-3", "cs-4"]) flagSet.state.clientSide = etag;
    await wait(250);
    recorder.disconnect();
    await running;
    const events = recorder.blocks().filter((block) => block.data !== undefined);
    assert.equal(events.length, 1, JSON.stringify(recorder.blocks()));
    assert.equal(events[0].id, "cs-4");
    assert.equal(JSON.parse(events[0].data as string).etag, "cs-4");
  });

  it("sends nothing to a client key for a change only a read token sees", async () => {
    const flagSet = fakeFlagSet();
    const { handler } = handlerWith(flagSet);
    const recorder = recordingSink();
    const running = (await open(handler)).stream(recorder.sink);
    flagSet.state.all = "all-2";
    await wait(100);
    recorder.disconnect();
    await running;
    assert.deepEqual(
      recorder.blocks().filter((block) => block.data !== undefined),
      [],
    );
    assert.ok(flagSet.state.gets > 3, "it looked");
  });

  it("closes a client that does not read, past the cap of unread bytes", async () => {
    const flagSet = fakeFlagSet();
    const { handler, log } = handlerWith(flagSet, { maxBufferedBytes: 300 });
    const recorder = recordingSink({ stuck: true });
    const running = (await open(handler)).stream(recorder.sink);
    for (let i = 2; i < 20 && !recorder.ended(); i++) {
      flagSet.state.clientSide = `cs-${i}`;
      await wait(25);
    }
    await running;
    assert.ok(recorder.ended(), "the stream was ended");
    assert.ok(log.lines.some(([, message]) => /does not read/.test(message)));
  });

  it("ends the stream, without a rejection, when the flag store fails", async () => {
    const flagSet = fakeFlagSet();
    const { handler, log } = handlerWith(flagSet);
    const recorder = recordingSink();
    const running = (await open(handler)).stream(recorder.sink);
    flagSet.state.fail = true;
    await running;
    assert.ok(recorder.ended());
    assert.ok(log.lines.some(([level]) => level === "error"));
  });

  it("refuses to open with 503 when the flag store fails, before any stream byte", async () => {
    const flagSet = fakeFlagSet();
    flagSet.state.fail = true;
    const { handler } = handlerWith(flagSet);
    const opening = await handler({ query: { c: credential }, header: () => undefined });
    assert.equal(opening.status, 503);
  });

  it("sends a heartbeat comment when nothing else was sent for heartbeatMs, and ends at maxDurationMs", async () => {
    const flagSet = fakeFlagSet();
    const { handler } = handlerWith(flagSet, { heartbeatMs: 50, maxDurationMs: 300 });
    const recorder = recordingSink();
    const startedAt = Date.now();
    await (await open(handler)).stream(recorder.sink);
    const took = Date.now() - startedAt;
    assert.ok(took >= 280 && took < 1000, `${took} ms`);
    assert.ok(recorder.ended());
    const pings = recorder.blocks().filter((block) => block.comments.includes("ping"));
    assert.ok(pings.length >= 3, JSON.stringify(recorder.blocks()));
  });
});
