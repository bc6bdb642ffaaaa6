import { strict as assert } from "node:assert";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Flag, FlagItem } from "../../handlers/flags/model";
import { type FlagStore, makeFlagStore } from "../../handlers/flags/store";
import { type ConnectionStore, makeConnectionStore } from "../../handlers/realtime/connections";
import { makeDefaultHandler, makeSnapshotHandler } from "../../handlers/realtime/handlers";
import { makePoster, settleBounded } from "../../handlers/realtime/push";
import { MAX_FRAME_BYTES, snapshotFrames } from "../../handlers/realtime/snapshot";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureConnectionsTable, ensureFlagsTable } from "../../local/tables";
import { startFakeManagementApi } from "../support/fakeManagementApi";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

const API_GATEWAY_MESSAGE_LIMIT = 128 * 1024;
const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** A flag of about 1 KiB serialized, with non-ASCII text so bytes and characters differ. */
const flagOfAboutOneKiB = (i: number): Flag => ({
  flagName: `flag-${String(i).padStart(5, "0")}`,
  value: { rollout: i % 100, note: "ü€".repeat(150), list: [i, i + 1, i + 2] },
  description: "x".repeat(300),
  version: 1 + (i % 7),
  createdAt: "2026-11-21T10:00:00.000Z",
  updatedAt: "2026-11-21T12:30:00.000Z",
  createdBy: "admin",
  updatedBy: "ci-bot",
  clientSide: i % 2 === 0,
});

const parse = (frames: string[]) => frames.map((frame) => JSON.parse(frame));

describe("snapshotFrames (a snapshot as API Gateway-sized frames)", () => {
  it("sends a small flag set as one frame, part 1 of 1, with the flags a single-frame client reads", () => {
    const flags = [flagOfAboutOneKiB(1), flagOfAboutOneKiB(2)];
    const [frame, ...rest] = parse(snapshotFrames(flags, {}));
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { type: frame.type, part: frame.part, parts: frame.parts, evaluators: frame.evaluators },
      { type: "snapshot", part: 1, parts: 1, evaluators: {} },
    );
    assert.deepEqual(frame.flags, flags);
  });

  it("splits 5,000 flags of about 1 KiB into frames within the limit that reassemble to the same flags", () => {
    const flags = Array.from({ length: 5000 }, (_, i) => flagOfAboutOneKiB(i));
    const evaluators = { is_ballmer: { "==": ["ballmer", { var: "firstname" }] } };

    const frames = snapshotFrames(flags, evaluators);

    assert.ok(Buffer.byteLength(JSON.stringify(flags)) > 40 * API_GATEWAY_MESSAGE_LIMIT, "the set is ~5 MB");
    for (const frame of frames) assert.ok(Buffer.byteLength(frame) <= MAX_FRAME_BYTES);
    const parsed = parse(frames);
    assert.deepEqual(
      parsed.map((p) => [p.type, p.part, p.parts]),
      parsed.map((_, i) => ["snapshot", i + 1, frames.length]),
    );
    assert.deepEqual(
      parsed.flatMap((p) => p.flags),
      flags,
    );
    assert.deepEqual(parsed[0].evaluators, evaluators);
    assert.ok(
      parsed.slice(1).every((p) => !("evaluators" in p)),
      "evaluators travel in the first part only",
    );
    // Packed, not one flag a frame: all but the last frame are nearly full.
    assert.ok(parsed.length < Math.ceil(Buffer.byteLength(JSON.stringify(flags)) / MAX_FRAME_BYTES) + 2);
  });

  it("sends an empty flag set as one frame with no flags", () => {
    assert.deepEqual(parse(snapshotFrames([], {})), [
      { type: "snapshot", part: 1, parts: 1, evaluators: {}, flags: [] },
    ]);
  });

  it("refuses evaluators that cannot fit one frame instead of posting what API Gateway would drop", () => {
    assert.throws(() => snapshotFrames([], { huge: "x".repeat(MAX_FRAME_BYTES) }), RangeError);
  });
});

describe("snapshot sending through the handlers (DynamoDB Local, Management API client, 128 KiB limit)", () => {
  const flags = Array.from({ length: 5000 }, (_, i) => flagOfAboutOneKiB(i));
  let doc: DynamoDBDocumentClient;
  let flagsTable: string;
  let connectionsTable: string;

  before(async () => {
    const client = localDynamoClient((await sharedDynamo()).endpoint);
    doc = DynamoDBDocumentClient.from(client);
    flagsTable = uniqueTableName("snap-flags");
    connectionsTable = uniqueTableName("snap-conns");
    await ensureFlagsTable(client, flagsTable);
    await ensureConnectionsTable(client, connectionsTable);
    const batches = Array.from({ length: flags.length / 25 }, (_, b) => flags.slice(b * 25, b * 25 + 25));
    const written = await settleBounded(batches, 8, async (batch) => {
      const items: FlagItem[] = batch.map(({ value, ...rest }) => ({ ...rest, valueJson: JSON.stringify(value) }));
      const result = await doc.send(
        new BatchWriteCommand({ RequestItems: { [flagsTable]: items.map((Item) => ({ PutRequest: { Item } })) } }),
      );
      assert.equal(Object.keys(result.UnprocessedItems ?? {}).length, 0);
    });
    assert.ok(written.every((outcome) => outcome.status === "fulfilled"));
  });
  after(() => doc.destroy());

  const setup = async () => {
    const management = await startFakeManagementApi();
    const post = makePoster(
      new ApiGatewayManagementApiClient({
        endpoint: management.endpoint,
        region: "local",
        credentials: { accessKeyId: "x", secretAccessKey: "x" },
      }),
    );
    const deps = {
      flags: makeFlagStore({ doc, tableName: flagsTable }),
      connections: makeConnectionStore({ doc, tableName: connectionsTable }),
      post,
      logger: silent,
      evaluators: async () => ({ beta: { in: [{ var: "email" }, ["a@b.c"]] } }),
    };
    return { management, deps };
  };

  const assembled = (bodies: string[] | undefined) => {
    const parts = parse(bodies ?? []);
    assert.ok(parts.length > 1 && parts.every((p) => p.parts === parts.length));
    return { flags: parts.flatMap((p) => p.flags) as Flag[], evaluators: parts[0].evaluators };
  };

  it("answers {action: sync} with every one of 5,000 flags, no frame over API Gateway's limit", async () => {
    const { management, deps } = await setup();
    try {
      const result = await makeDefaultHandler(deps)({
        requestContext: { connectionId: "big", routeKey: "$default" },
        body: '{"action":"sync"}',
      });

      assert.equal(result.statusCode, 200);
      const received = management.received.get("big");
      assert.ok(received?.every((body) => Buffer.byteLength(body) <= API_GATEWAY_MESSAGE_LIMIT));
      const snapshot = assembled(received);
      assert.deepEqual(snapshot.evaluators, { beta: { in: [{ var: "email" }, ["a@b.c"]] } });
      assert.deepEqual(
        snapshot.flags.map((f) => f.flagName).sort(),
        flags.map((f) => f.flagName),
      );
      const byName = new Map(snapshot.flags.map((f) => [f.flagName, f]));
      assert.deepEqual(byName.get("flag-04321"), flags[4321]);
    } finally {
      await management.stop();
    }
  });

  it("greets a new connection (connections-table INSERT) with the whole set in parts", async () => {
    const { management, deps } = await setup();
    try {
      const record = {
        eventName: "INSERT",
        dynamodb: { NewImage: { connectionId: { S: "new-conn" } }, SequenceNumber: "1" },
      };
      const result = await makeSnapshotHandler(deps)({ Records: [record] } as never);

      assert.deepEqual(result, { batchItemFailures: [] });
      assert.equal(assembled(management.received.get("new-conn")).flags.length, 5000);
    } finally {
      await management.stop();
    }
  });

  it("stops and forgets a connection that goes away mid-snapshot", async () => {
    const { management, deps } = await setup();
    let posted = 0;
    const removed: string[] = [];
    try {
      await makeDefaultHandler({
        ...deps,
        // The client leaves after the third frame.
        post: async (id, message) => (++posted > 3 ? "gone" : deps.post(id, message)),
        connections: { ...deps.connections, remove: async (id: string) => void removed.push(id) },
      })({ requestContext: { connectionId: "leaver", routeKey: "$default" }, body: '{"action":"sync"}' });

      assert.equal(posted, 4);
      assert.deepEqual(removed, ["leaver"]);
    } finally {
      await management.stop();
    }
  });

  describe("greeting new connections (connections-table INSERTs)", () => {
    const insert = (connectionId: string, connectedAt: Date) => ({
      eventName: "INSERT",
      dynamodb: {
        NewImage: { connectionId: { S: connectionId }, connectedAt: { S: connectedAt.toISOString() } },
        SequenceNumber: connectionId,
      },
    });
    /** A snapshot handler over one flag, a poster that finds `gone-*` connections gone. */
    const greeter = (goneAtFirst: (id: string) => boolean) => {
      const seen = { reads: 0, posts: [] as string[], removed: [] as string[] };
      const handler = makeSnapshotHandler({
        flags: { all: async () => (seen.reads++, [flagOfAboutOneKiB(1)]) } as unknown as FlagStore,
        connections: { remove: async (id: string) => void seen.removed.push(id) } as unknown as ConnectionStore,
        post: async (id) => {
          const first = !seen.posts.includes(id);
          seen.posts.push(id);
          return first && goneAtFirst(id) ? "gone" : "sent";
        },
        logger: silent,
        retryDelayMs: 300,
      });
      return { seen, handler };
    };

    it("reads the flag set once per batch, and drops a connection that left long ago at its first 410", async () => {
      const { seen, handler } = greeter((id) => id.startsWith("gone"));
      const minuteAgo = new Date(Date.now() - 60_000);
      const started = Date.now();

      const result = await handler({
        Records: [insert("gone-1", minuteAgo), insert("gone-2", minuteAgo), insert("here", new Date())],
      } as never);

      assert.deepEqual(result, { batchItemFailures: [] });
      assert.equal(seen.reads, 1);
      assert.deepEqual([...seen.posts].sort(), ["gone-1", "gone-2", "here"]);
      assert.deepEqual([...seen.removed].sort(), ["gone-1", "gone-2"]);
      assert.ok(Date.now() - started < 300, "a connection gone long ago was retried");
    });

    it("retries the first frame of a connection whose handshake may not have completed", async () => {
      const { seen, handler } = greeter(() => true);

      await handler({ Records: [insert("opening", new Date())] } as never);

      assert.deepEqual(seen.posts, ["opening", "opening"]);
      assert.deepEqual(seen.removed, []);
    });

    it("treats a row without a connection time as just connected (retried, not dropped)", async () => {
      const { seen, handler } = greeter(() => true);
      const record = {
        eventName: "INSERT",
        dynamodb: { NewImage: { connectionId: { S: "old-row" } }, SequenceNumber: "1" },
      };

      await handler({ Records: [record] } as never);

      assert.deepEqual(seen.posts, ["old-row", "old-row"]);
      assert.deepEqual(seen.removed, []);
    });
  });

  it('answers {"action": "ping"} with a pong and nothing else (a keep-alive costs no snapshot)', async () => {
    const { management, deps } = await setup();
    try {
      await makeDefaultHandler(deps)({
        requestContext: { connectionId: "idle", routeKey: "$default" },
        body: '{"action":"ping"}',
      });
      assert.deepEqual(management.received.get("idle"), ['{"type":"pong"}']);
    } finally {
      await management.stop();
    }
  });
});
