import { strict as assert } from "node:assert";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { makeConnectionStore } from "../../handlers/realtime/connections";
import { makeFanoutHandler } from "../../handlers/realtime/handlers";
import type { ServerMessage } from "../../handlers/realtime/messages";
import { makePoster, type Poster } from "../../handlers/realtime/push";
import {
  chunkMessages,
  deliver,
  type FanoutWorkerEvent,
  inlineConnectionLimit,
  FANOUT_WORKER_TIMEOUT_SECONDS,
  FANOUT_WORKER_WAIT_MS,
  makeFanOut,
  makeFanoutWorkerHandler,
  makeWorkerInvoker,
  segmentCount,
  workerEventBytes,
  workerEvents,
} from "../../handlers/realtime/scaleout";
import {
  INVOKE_PAYLOAD_BYTES,
  MAX_FANOUT_WORKERS,
  POSTS_PER_INVOCATION,
  SCAN_FIRST_PAGE_ROWS,
} from "../../handlers/realtime/table";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureConnectionsTable } from "../../local/tables";
import { startFakeManagementApi } from "../support/fakeManagementApi";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { captureStreamRecords } from "../support/streamRecords";

const silent = { info: () => {}, warn: () => {}, error: () => {} };
const deleted = (flagName: string, version = 1): ServerMessage => ({ type: "flag.deleted", flagName, version });

describe("fan-out scale-out: the arithmetic (pure functions)", () => {
  it("serves one invocation's share of posts inline: 1,000 connections for one message, fewer for more", () => {
    assert.equal(POSTS_PER_INVOCATION, 1000);
    assert.equal(inlineConnectionLimit(1), 1000);
    assert.equal(inlineConnectionLimit(3), 333);
    assert.equal(inlineConnectionLimit(100), 10);
    // Never below one connection, whatever the batch.
    assert.equal(inlineConnectionLimit(5000), 1);
    assert.equal(inlineConnectionLimit(0), 1000);
    assert.equal(inlineConnectionLimit(1, 50), 50);
  });

  it("sizes the parallel scan to one share of posts per segment, at least 2, at most the worker cap", () => {
    // 100,000 connections × 1 message: 100 workers of 1,000 posts.
    assert.equal(segmentCount(100_000, 1), 100);
    assert.equal(MAX_FANOUT_WORKERS, 100);
    assert.equal(segmentCount(2_500, 1), 3);
    assert.equal(segmentCount(5_000, 3), 15);
    // Capped: more connections make each worker's share larger, not the number of workers.
    assert.equal(segmentCount(1_000_000, 1), 100);
    assert.equal(segmentCount(1_000_000, 1, { maxWorkers: 250 }), 250);
    // A stale (six-hour) item count of 0 still splits: one share was exceeded to get here.
    assert.equal(segmentCount(0, 1), 2);
    assert.equal(segmentCount(1_001, 1), 2);
    assert.equal(segmentCount(10_000, 1, { postsPerInvocation: 500 }), 20);
  });

  it("chunks messages, in order and each once, into worker events within the payload limit", () => {
    const sizes = [10, 120_000, 3, 90_000, 127_000, 5, 64_000, 1, 110_000, 2];
    const messages = sizes.map((n, i) =>
      JSON.stringify({ type: "flag.updated", i, pad: '"'.repeat(n / 2) + "x".repeat(n / 2) }),
    );
    for (const limit of [INVOKE_PAYLOAD_BYTES, 600_000, 520_000]) {
      const chunks = chunkMessages(messages, limit);
      assert.deepEqual(chunks.flat(), messages, `limit ${limit}: all messages, in order, once`);
      for (const chunk of chunks) {
        const bytes = workerEventBytes({ segment: 99, totalSegments: 100, messages: chunk });
        assert.ok(bytes <= limit, `limit ${limit}: an event of ${bytes} bytes`);
      }
      // Greedy: no two neighbouring chunks would have fitted one event.
      for (let i = 1; i < chunks.length; i++) {
        const merged = workerEventBytes({
          segment: 99,
          totalSegments: 100,
          messages: [...chunks[i - 1], ...chunks[i]],
        });
        assert.ok(merged > limit - 20, `limit ${limit}: chunks ${i - 1} and ${i} could be one`);
      }
    }
    const small = Array.from({ length: 100 }, (_, i) => JSON.stringify(deleted(`flag-${i}`)));
    assert.equal(chunkMessages(small).length, 1, "a full batch of small changes is one event per segment");
    assert.deepEqual(chunkMessages([]), []);
    assert.throws(() => chunkMessages(["x".repeat(2_000)], 1_000), RangeError);
  });

  it("gives every (segment, chunk) pair exactly one worker event", () => {
    const chunks = [["a", "b"], ["c"], ["d"]];
    const events = workerEvents(4, chunks);
    assert.equal(events.length, 12);
    for (let segment = 0; segment < 4; segment++) {
      const mine = events.filter((e) => e.segment === segment);
      assert.ok(mine.every((e) => e.totalSegments === 4));
      assert.deepEqual(
        mine.flatMap((e) => e.messages),
        ["a", "b", "c", "d"],
      );
    }
  });
});

describe("the fan-out's worker invoker (a synchronous Invoke with a deadline)", () => {
  const event: FanoutWorkerEvent = { segment: 1, totalSegments: 4, messages: ['{"type":"flag.deleted"}'] };
  /** An Invoke that never answers, and gives up (as the SDK does) when its signal aborts. */
  const hanging = (seen: AbortSignal[]) => (_payload: string, signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      seen.push(signal);
      signal.addEventListener("abort", () => reject(new Error("AbortError")), { once: true });
    });

  it("waits for a worker no longer than its timeout and a cold start's init", () => {
    assert.equal(FANOUT_WORKER_WAIT_MS, (FANOUT_WORKER_TIMEOUT_SECONDS + 10) * 1000);
  });

  it("sends the event and resolves when the worker answers", async () => {
    const payloads: string[] = [];
    const invoke = makeWorkerInvoker(async (payload) => {
      payloads.push(payload);
      return {};
    });

    await invoke(event);

    assert.deepEqual(
      payloads.map((p) => JSON.parse(p)),
      [event],
    );
  });

  it("rejects with the worker's error when it failed, a timeout included", async () => {
    const invoke = makeWorkerInvoker(async () => ({
      FunctionError: "Unhandled",
      Payload: Buffer.from(JSON.stringify({ errorMessage: "Task timed out after 240.00 seconds" })),
    }));

    await assert.rejects(invoke(event), /fan-out worker failed \(Unhandled\): .*Task timed out/);
  });

  it("stops waiting for a worker that does not answer in time, aborting its request", async () => {
    const signals: AbortSignal[] = [];
    const invoke = makeWorkerInvoker(hanging(signals), 50);
    const started = Date.now();

    await assert.rejects(invoke(event), /did not answer within 50 ms/);

    assert.ok(Date.now() - started < 1000, "the consumer went on at the deadline");
    assert.equal(signals.length, 1);
    assert.equal(signals[0].aborted, true, "the Invoke request is abandoned");
  });

  it("stops waiting at the deadline even if the request ignores its signal", async () => {
    const invoke = makeWorkerInvoker(() => new Promise<never>(() => {}), 30);
    await assert.rejects(invoke(event), /did not answer within 30 ms/);
  });
});

describe("fan-out delivery over pages of connections", () => {
  const noRemovals = { remove: async () => {} } as unknown as Parameters<typeof deliver>[2]["connections"];
  /** Resolves when `ready` is called; rejects after 5 s, naming what never happened. */
  const gate = (what: string) => {
    let open: () => void = () => {};
    const opened = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never happened: ${what}`)), 5_000);
      open = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return { opened, open };
  };

  it("starts posting once the first page is read, before the Scan has read the rest", async () => {
    const firstPost = gate("a post before the second page was read");
    async function* pages() {
      yield ["c-0", "c-1", "c-2"];
      await firstPost.opened; // the second page is read only after a post went out
      yield ["c-3", "c-4"];
    }
    const posted: string[] = [];
    const delivery = await deliver(pages(), [deleted("x")], {
      post: async (id) => {
        posted.push(id);
        firstPost.open();
        return "sent";
      },
      connections: noRemovals,
      concurrency: 2,
    });
    assert.deepEqual(posted.sort(), ["c-0", "c-1", "c-2", "c-3", "c-4"]);
    assert.equal(delivery.sent, 5);
  });

  it("lets no page wait for the slowest post of the one before, and keeps each connection's message order", async () => {
    // With a barrier per page, c-slow's post (page 1) would wait for c-next (page 2) forever.
    const nextPosted = gate("the second page's post while the first page's slow post was in flight");
    async function* pages() {
      yield ["c-slow", "c-fast"];
      yield ["c-next"];
    }
    const received = new Map<string, string[]>();
    const delivery = await deliver(pages(), [deleted("a", 1), deleted("b", 2)], {
      post: async (id, message) => {
        if (id === "c-slow") await nextPosted.opened;
        if (id === "c-next") nextPosted.open();
        received.set(id, [...(received.get(id) ?? []), (message as { flagName: string }).flagName]);
        return "sent";
      },
      connections: noRemovals,
      concurrency: 2,
    });
    assert.equal(delivery.sent, 6);
    for (const id of ["c-slow", "c-fast", "c-next"]) assert.deepEqual(received.get(id), ["a", "b"], id);
  });

  it("posts to the connections already read when a later page fails, deletes the gone, then fails", async () => {
    async function* pages(): AsyncGenerator<string[]> {
      yield ["c-0", "gone-1", "c-2"];
      throw new Error("ProvisionedThroughputExceededException");
    }
    const posted: string[] = [];
    const removed: string[] = [];
    await assert.rejects(
      deliver(pages(), [deleted("x")], {
        post: async (id) => {
          posted.push(id);
          return id.startsWith("gone-") ? "gone" : "sent";
        },
        connections: {
          remove: async (id: string) => {
            removed.push(id);
          },
        } as unknown as Parameters<typeof deliver>[2]["connections"],
        concurrency: 10,
      }),
      /ProvisionedThroughputExceededException/,
    );
    assert.deepEqual(posted.sort(), ["c-0", "c-2", "gone-1"]);
    assert.deepEqual(removed, ["gone-1"]);
  });
});

describe("fan-out scale-out against DynamoDB Local, many connections", function () {
  this.timeout(120_000);
  let client: ReturnType<typeof localDynamoClient>;
  let doc: DynamoDBDocumentClient;
  let created: DynamoDBRecord;

  before(async () => {
    client = localDynamoClient((await sharedDynamo()).endpoint);
    doc = DynamoDBDocumentClient.from(client);
    [created] = await captureStreamRecords(1, (store) =>
      store.create({ flagName: "scaled", value: true }, "admin").then(() => undefined),
    );
  });
  after(() => client.destroy());

  const tableWith = async (count: number, gone: (i: number) => boolean) => {
    const tableName = uniqueTableName("scale-conns");
    await ensureConnectionsTable(client, tableName);
    const ids = Array.from({ length: count }, (_, i) => (gone(i) ? `gone-${i}` : `live-${i}`));
    for (let i = 0; i < ids.length; i += 25) {
      const rows = ids.slice(i, i + 25).map((connectionId) => ({ PutRequest: { Item: { connectionId } } }));
      await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: rows } }));
    }
    return {
      tableName,
      live: ids.filter((id) => id.startsWith("live-")),
      goneIds: ids.filter((id) => id.startsWith("gone-")),
    };
  };
  const rowsOf = async (tableName: string) => {
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
      ids.push(...(page.Items ?? []).map((item) => item.connectionId as string));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return ids.sort();
  };
  const posterFor = (endpoint: string): Poster =>
    makePoster(
      new ApiGatewayManagementApiClient({
        endpoint,
        region: "local",
        credentials: { accessKeyId: "x", secretAccessKey: "x" },
        requestHandler: { httpAgent: { maxSockets: 100, keepAlive: true } },
      }),
    );

  /** The consumer and its worker wired as on AWS, the worker invoked asynchronously in process. */
  const scaledOut = (tableName: string, post: Poster, limits = { postsPerInvocation: 500 }) => {
    const connections = makeConnectionStore({ doc, tableName });
    const started: FanoutWorkerEvent[] = [];
    const worker = makeFanoutWorkerHandler({ connections, post, logger: silent });
    const handler = makeFanoutHandler({
      connections,
      post,
      logger: silent,
      limits,
      invokeWorker: async (event) => {
        started.push(event);
        await worker(event);
      },
    });
    return { handler, started, connections };
  };

  it("reads a short first page, then the rest, every connection exactly once, posting to each once", async () => {
    assert.ok(SCAN_FIRST_PAGE_ROWS >= 50 && SCAN_FIRST_PAGE_ROWS <= 1000, "one round of posts, not the whole table");
    const { tableName, live, goneIds } = await tableWith(95, (i) => i % 10 === 3);
    const connections = makeConnectionStore({ doc, tableName });
    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const page of connections.pages(undefined, 7)) {
      sizes.push(page.length);
      seen.push(...page);
    }
    assert.equal(sizes[0], 7, `pages of ${sizes.join(", ")}`);
    assert.ok(sizes.length >= 2, "the rest came after the first page");
    assert.deepEqual(seen.sort(), [...live, ...goneIds].sort());

    const management = await startFakeManagementApi({ gone: new Set(goneIds) });
    try {
      const paged = { ...connections, pages: () => connections.pages(undefined, 7) };
      const result = await makeFanOut({ connections: paged, post: posterFor(management.endpoint), logger: silent })([
        deleted("paged"),
      ]);
      assert.deepEqual([result.sent, result.gone], [live.length, goneIds.length]);
      assert.ok(live.every((id) => management.received.get(id)?.length === 1));
      assert.deepEqual(await rowsOf(tableName), [...live].sort(), "the gone rows are deleted, no other");
    } finally {
      await management.stop();
    }
  });

  it("reaches each of 3,000 connections exactly once across parallel segments, and deletes the 60 gone", async () => {
    const { tableName, live, goneIds } = await tableWith(3000, (i) => i % 50 === 7);
    const management = await startFakeManagementApi({ gone: new Set(goneIds) });
    try {
      const { handler, started } = scaledOut(tableName, posterFor(management.endpoint));
      assert.deepEqual(await handler({ Records: [created] }), { batchItemFailures: [] });
      // DynamoDB Local's item count: 3,000 at 500 posts per invocation.
      assert.equal(started.length, 6);
      assert.deepEqual(
        started.map((e) => e.segment).sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5],
      );
      const counts = live.map((id) => management.received.get(id)?.length ?? 0);
      assert.equal(counts.filter((n) => n !== 1).length, 0, "every live connection got the message exactly once");
      assert.equal(JSON.parse(management.received.get(live[0])?.[0] ?? "{}").flag.flagName, "scaled");
      assert.equal(goneIds.length, 60);
      assert.deepEqual(await rowsOf(tableName), [...live].sort(), "the gone rows are deleted, no other");
    } finally {
      await management.stop();
    }
  });

  it("delivers several changes split over several events per segment, each once (one flag each: order does not matter)", async () => {
    const { tableName, live } = await tableWith(1200, () => false);
    const management = await startFakeManagementApi();
    try {
      const connections = makeConnectionStore({ doc, tableName });
      const post = posterFor(management.endpoint);
      const worker = makeFanoutWorkerHandler({ connections, post, logger: silent });
      const started: FanoutWorkerEvent[] = [];
      const fanOut = makeFanOut({
        connections,
        post,
        logger: silent,
        // Small events: three messages need two per segment.
        limits: { postsPerInvocation: 600, payloadBytes: 200 },
        invokeWorker: async (event) => {
          started.push(event);
          await worker(event);
        },
      });
      const messages = [deleted("a", 3), deleted("b", 4), deleted("c", 5)];
      const result = await fanOut(messages);
      // 1,200 connections × 3 messages / 600 posts = 6 segments, each in 2 events.
      assert.equal(result.workers, 12);
      assert.equal(new Set(started.map((e) => e.segment)).size, 6);
      for (const id of live) {
        assert.deepEqual(
          (management.received.get(id) ?? []).map((body) => JSON.parse(body).flagName).sort(),
          ["a", "b", "c"],
          id,
        );
      }
    } finally {
      await management.stop();
    }
  });

  it("keeps a small fan-out in this invocation: no worker, one scan", async () => {
    const { tableName, live } = await tableWith(40, () => false);
    const management = await startFakeManagementApi();
    try {
      const { handler, started } = scaledOut(tableName, posterFor(management.endpoint), { postsPerInvocation: 1000 });
      assert.deepEqual(await handler({ Records: [created] }), { batchItemFailures: [] });
      assert.equal(started.length, 0);
      assert.ok(live.every((id) => management.received.get(id)?.length === 1));
    } finally {
      await management.stop();
    }
  });

  it("fails the change when a worker fails; the stream's retry reaches everyone, no one more than twice", async () => {
    const { tableName, live } = await tableWith(1200, () => false);
    const management = await startFakeManagementApi();
    try {
      const real = posterFor(management.endpoint);
      const failOnce = new Set(["live-17"]);
      const post: Poster = async (id, message) => {
        if (failOnce.delete(id)) throw new Error("InternalServerErrorException");
        return real(id, message);
      };
      const { handler, started } = scaledOut(tableName, post, { postsPerInvocation: 300 });
      // The only change of the batch failed in one segment: the batch fails, as a stream consumer's must.
      await assert.rejects(handler({ Records: [created] }), /All records failed processing/);
      assert.equal(started.length, 4, "every other segment still ran");
      const missed = live.filter((id) => (management.received.get(id)?.length ?? 0) === 0);
      assert.deepEqual(missed, ["live-17"]);
      // The stream retries the batch.
      assert.deepEqual(await handler({ Records: [created] }), { batchItemFailures: [] });
      const counts = live.map((id) => management.received.get(id)?.length ?? 0);
      assert.ok(
        counts.every((n) => n >= 1 && n <= 2),
        "everyone got it, no one more than twice",
      );
    } finally {
      await management.stop();
    }
  });

  it("fails the change when a worker does not answer in time; the stream's retry reaches everyone", async () => {
    const { tableName, live } = await tableWith(400, () => false);
    const management = await startFakeManagementApi();
    try {
      const post = posterFor(management.endpoint);
      const connections = makeConnectionStore({ doc, tableName });
      const worker = makeFanoutWorkerHandler({ connections, post, logger: silent });
      let hangs = 1;
      const invokeWorker = makeWorkerInvoker(async (payload, signal) => {
        const workerEvent = JSON.parse(payload) as FanoutWorkerEvent;
        if (workerEvent.segment === 2 && hangs-- > 0) {
          // A worker stuck past its deadline: the request is abandoned, the worker delivers nothing.
          return new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        }
        await worker(workerEvent);
        return {};
        // The deadline only the stuck worker should meet: long enough that the others' 100 posts
        // each finish well within it on a loaded 2-CPU machine.
      }, 8000);
      const handler = makeFanoutHandler({
        connections,
        post,
        logger: silent,
        limits: { postsPerInvocation: 100 },
        invokeWorker,
      });

      await assert.rejects(handler({ Records: [created] }), /All records failed processing/);
      const missed = live.filter((id) => (management.received.get(id)?.length ?? 0) === 0);
      assert.ok(missed.length > 0 && missed.length < live.length, `only the stuck segment missed it: ${missed.length}`);

      // The stream retries the batch.
      assert.deepEqual(await handler({ Records: [created] }), { batchItemFailures: [] });
      assert.deepEqual(
        live.filter((id) => (management.received.get(id)?.length ?? 0) === 0),
        [],
        "everyone got it",
      );
    } finally {
      await management.stop();
    }
  });

  it("fails the batch when a worker cannot be started, so the stream retries it", async () => {
    const { tableName } = await tableWith(120, () => false);
    const management = await startFakeManagementApi();
    try {
      const connections = makeConnectionStore({ doc, tableName });
      let calls = 0;
      const handler = makeFanoutHandler({
        connections,
        post: posterFor(management.endpoint),
        logger: silent,
        limits: { postsPerInvocation: 100 },
        invokeWorker: async () => {
          calls += 1;
          if (calls === 2) throw new Error("TooManyRequestsException");
        },
      });
      await assert.rejects(handler({ Records: [created] }), /All records failed processing/);
      assert.equal(management.received.size, 0, "the consumer posts nothing itself once it scales out");
    } finally {
      await management.stop();
    }
  });

  it("refuses a malformed worker event without touching any connection", async () => {
    const { tableName } = await tableWith(3, () => false);
    const management = await startFakeManagementApi();
    try {
      const worker = makeFanoutWorkerHandler({
        connections: makeConnectionStore({ doc, tableName }),
        post: posterFor(management.endpoint),
        logger: silent,
      });
      for (const event of [
        {},
        { segment: 2, totalSegments: 2, messages: ["x"] },
        { segment: 0, totalSegments: 1, messages: [{}] },
        { segment: -1, totalSegments: 1, messages: [] },
      ]) {
        await assert.rejects(worker(event), TypeError, JSON.stringify(event));
      }
      assert.equal(management.received.size, 0);
    } finally {
      await management.stop();
    }
  });
});
