import { strict as assert } from "node:assert";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import type { EvaluatorSet } from "../../handlers/evaluators/model";
import { makeConnectionStore } from "../../handlers/realtime/connections";
import { makeBroadcast, makeFanoutHandler } from "../../handlers/realtime/handlers";
import { changesEvaluators, matchesFilter, recordToMessage } from "../../handlers/realtime/messages";
import { makePoster, settleBounded } from "../../handlers/realtime/push";
import { EVALUATORS_FILTER, SNAPSHOT_FILTER } from "../../handlers/realtime/table";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureConnectionsTable } from "../../local/tables";
import { startFakeManagementApi } from "../support/fakeManagementApi";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { captureStreamRecords } from "../support/streamRecords";

const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** A copy of an INSERT record about another flag, at another position in the stream. */
function renamed(record: DynamoDBRecord, flagName: string, sequenceNumber: string): DynamoDBRecord {
  const image = { ...record.dynamodb?.NewImage, flagName: { S: flagName } };
  return { ...record, dynamodb: { ...record.dynamodb, NewImage: image, SequenceNumber: sequenceNumber } };
}

/** A poster through the real Management API client, pointed at a stand-in endpoint. */
const posterFor = (endpoint: string) =>
  makePoster(
    new ApiGatewayManagementApiClient({
      endpoint,
      region: "local",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
      requestHandler: { httpAgent: { maxSockets: 100 } },
    }),
  );

describe("realtime handlers with real DynamoDB Local stream records", () => {
  const records: DynamoDBRecord[] = [];
  let client: ReturnType<typeof localDynamoClient>;

  before(async () => {
    client = localDynamoClient((await sharedDynamo()).endpoint);
    records.push(
      ...(await captureStreamRecords(5, async (store) => {
        // A create, a read, an update and a delete, through the real store.
        await store.create({ flagName: "streamed", value: { on: true }, description: "d" }, "admin");
        await store.read("streamed");
        await store.update("streamed", { value: { on: false } }, "ci-bot");
        await store.remove("streamed");
      })),
    );
  });

  after(() => client.destroy());

  it("captures the changes in order, with both images (a delete first stamps who deletes)", () => {
    assert.deepEqual(
      records.map((r) => r.eventName),
      ["INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"],
    );
    assert.ok(records[2].dynamodb?.OldImage && records[2].dynamodb?.NewImage);
  });

  it("turns an INSERT into flag.created with a plain-JSON flag", () => {
    const message = recordToMessage(records[0]);
    assert.equal(message?.type, "flag.created");
    assert.deepEqual(message?.type === "flag.created" && message.flag.value, { on: true });
    assert.equal(message?.type === "flag.created" && message.flag.createdBy, "admin");
  });

  it("skips the read's lastAccessed touch: the version did not change", () => {
    assert.equal(recordToMessage(records[1]), undefined);
  });

  it("turns a version bump into flag.updated", () => {
    const message = recordToMessage(records[2]);
    assert.equal(message?.type, "flag.updated");
    assert.equal(message?.type === "flag.updated" && message.flag.version, 2);
    assert.equal(message?.type === "flag.updated" && message.flag.updatedBy, "ci-bot");
  });

  it("skips the deleter stamp, and turns the REMOVE into flag.deleted with the last version", () => {
    assert.equal(recordToMessage(records[3]), undefined);
    assert.deepEqual(recordToMessage(records[4]), { type: "flag.deleted", flagName: "streamed", version: 2 });
  });

  it("matches the snapshot filter against INSERTs only", () => {
    assert.deepEqual(
      records.map((r) => matchesFilter(r, SNAPSHOT_FILTER)),
      [true, false, false, false, false],
    );
  });

  describe("fan-out", () => {
    let connectionsTable: string;
    let doc: DynamoDBDocumentClient;

    beforeEach(async () => {
      connectionsTable = uniqueTableName("conns");
      await ensureConnectionsTable(client, connectionsTable);
      doc = DynamoDBDocumentClient.from(client);
    });

    const addRows = async (ids: string[]) => {
      for (const connectionId of ids) {
        await doc.send(new PutCommand({ TableName: connectionsTable, Item: { connectionId } }));
      }
    };

    it("delivers each flag's newest change to every connection and deletes the rows API Gateway calls gone", async () => {
      await addRows(["live-1", "live-2", "stale"]);
      const management = await startFakeManagementApi({ gone: new Set(["stale"]) });
      try {
        const post = posterFor(management.endpoint);
        const connections = makeConnectionStore({ doc, tableName: connectionsTable });
        const result = await makeFanoutHandler({ connections, post, logger: silent })({ Records: records });

        assert.deepEqual(result, { batchItemFailures: [] });
        // Created, updated and deleted within one batch: only the newest state goes out.
        for (const id of ["live-1", "live-2"]) {
          assert.deepEqual(
            management.received.get(id)?.map((body) => JSON.parse(body).type),
            ["flag.deleted"],
          );
        }
        const rows = await doc.send(new ScanCommand({ TableName: connectionsTable }));
        assert.deepEqual(rows.Items?.map((row) => row.connectionId).sort(), ["live-1", "live-2"]);
      } finally {
        await management.stop();
      }
    });

    it("reports a flag whose posts fail for another reason from its first record, so the stream retries from it", async () => {
      await addRows(["live-1"]);
      const other = renamed(records[0], "other", "9".repeat(30));
      const post = async (_id: string, message: unknown) => {
        if ((message as { flag?: { flagName: string } }).flag?.flagName === "other") throw new Error("throttled");
        return "sent" as const;
      };
      const connections = makeConnectionStore({ doc, tableName: connectionsTable });
      const fanout = makeFanoutHandler({ connections, post, logger: silent });

      const partial = await fanout({ Records: [records[0], other, records[2]] });
      assert.deepEqual(partial, { batchItemFailures: [{ itemIdentifier: other.dynamodb?.SequenceNumber }] });
      // A batch where everything failed fails the invocation: Lambda then bisects and retries it.
      await assert.rejects(fanout({ Records: [other] }), /All records failed/);
    });

    it("sends one message per flag per batch, each flag's highest version", async () => {
      await addRows(["live-1"]);
      const sent: Array<{ type: string; flag?: { flagName: string; version: number } }> = [];
      const post = async (_id: string, message: unknown) => {
        sent.push(message as (typeof sent)[number]);
        return "sent" as const;
      };
      const connections = makeConnectionStore({ doc, tableName: connectionsTable });
      const other = renamed(records[0], "other", "9".repeat(30));

      await makeFanoutHandler({ connections, post, logger: silent })({
        Records: [records[0], other, records[1], records[2]],
      });

      assert.deepEqual(
        sent.map((m) => [m.type, m.flag?.flagName, m.flag?.version]),
        [
          ["flag.updated", "streamed", 2],
          ["flag.created", "other", 1],
        ],
      );
    });

    it("keeps at most `concurrency` posts in flight", async () => {
      const ids = Array.from({ length: 60 }, (_, i) => `c-${i}`);
      await addRows(ids);
      const management = await startFakeManagementApi({ delayMs: 100 });
      try {
        const post = posterFor(management.endpoint);
        const connections = makeConnectionStore({ doc, tableName: connectionsTable });
        const result = await makeBroadcast({ connections, post, logger: silent, concurrency: 8 })({
          type: "flag.deleted",
          flagName: "x",
          version: 1,
        });
        assert.deepEqual(result, { sent: 60, gone: 0 });
        assert.equal(management.maxInFlight(), 8);
      } finally {
        await management.stop();
      }
    });
  });
});

describe("evaluators-table stream records (captured from DynamoDB Local)", () => {
  const records: DynamoDBRecord[] = [];
  const key = (r: DynamoDBRecord) => `${r.eventName} ${r.dynamodb?.Keys?.name?.S}`;
  const evaluatorRecords = () => records.filter((r) => r.dynamodb?.Keys?.name?.S === "beta");

  before(async () => {
    records.push(
      ...(await captureStreamRecords(
        11,
        async (flags, evaluators) => {
          await evaluators.put("beta", { in: ["beta", { var: "groups" }] }, "admin");
          // A flag that references it: only beta's refCount and the flag-set version move.
          await flags.create(
            {
              flagName: "uses-beta",
              value: "a",
              definition: {
                variants: { a: "a", b: "b" },
                defaultVariant: "a",
                targeting: { if: [{ $ref: "beta" }, "b"] },
              },
              refs: ["beta"],
            },
            "admin",
          );
          await evaluators.put("beta", { "==": [{ var: "plan" }, "beta"] }, "admin");
          await flags.remove("uses-beta");
          await evaluators.remove("beta");
        },
        "evaluators",
      )),
    );
  });

  it("captures the evaluator's life and the flag-set version item beside it", () => {
    assert.deepEqual(
      evaluatorRecords().map((r) => r.eventName),
      ["INSERT", "MODIFY", "MODIFY", "MODIFY", "MODIFY", "REMOVE"],
    );
    assert.equal(records.filter((r) => r.dynamodb?.Keys?.name?.S === "$flagset").length, 5);
  });

  it("counts a creation, a new expression and a deletion as changes; reference counts and the version item not", () => {
    assert.deepEqual(
      evaluatorRecords().map((r) => [key(r), changesEvaluators(r)]),
      [
        ["INSERT beta", true],
        ["MODIFY beta", false], // the flag's create: refCount 0 → 1
        ["MODIFY beta", true], // a new expression
        ["MODIFY beta", false], // the flag's delete: refCount 1 → 0
        ["MODIFY beta", false], // the evaluator's delete stamps who and when, version unchanged
        ["REMOVE beta", true],
      ],
    );
    for (const record of records.filter((r) => r.dynamodb?.Keys?.name?.S === "$flagset")) {
      assert.equal(changesEvaluators(record), false, key(record));
    }
  });

  it("lets the event-source filter through evaluator items only, never the flag-set version item", () => {
    for (const record of records) {
      assert.equal(matchesFilter(record, EVALUATORS_FILTER), record.dynamodb?.Keys?.name?.S === "beta", key(record));
    }
  });

  describe("fan-out", () => {
    const connections = {
      async *pages() {
        yield ["c-1", "c-2"];
      },
      remove: async () => {},
    } as unknown as Parameters<typeof makeFanoutHandler>[0]["connections"];

    /** A fan-out recording what it posts, reading the evaluators from `reads` in turn (the last one repeats). */
    const recordingFanout = (reads: EvaluatorSet[]) => {
      const sent: Array<[string, unknown]> = [];
      let count = 0;
      const fanout = makeFanoutHandler({
        connections,
        post: async (id, message) => {
          sent.push([id, message]);
          return "sent" as const;
        },
        logger: silent,
        evaluators: async () => reads[Math.min(count++, reads.length - 1)],
        staleReadDelayMs: 1,
      });
      return { fanout, sent, reads: () => count };
    };
    // beta's records up to its new expression (version 2, position 2).
    const upToReplace = () => evaluatorRecords().slice(0, 3);
    const beta2 = { expressions: { beta: { var: "beta" } }, positions: { beta: 2 } };

    it("broadcasts every evaluator once per batch that changes one, and nothing for reference counts", async () => {
      const { fanout, sent, reads } = recordingFanout([beta2]);
      const refCountOnly = evaluatorRecords().filter((r) => !changesEvaluators(r));
      assert.deepEqual(await fanout({ Records: refCountOnly }), { batchItemFailures: [] });
      assert.deepEqual([sent, reads()], [[], 0]);

      assert.deepEqual(await fanout({ Records: upToReplace() }), { batchItemFailures: [] });
      const message = { type: "evaluators.updated", evaluators: { beta: { var: "beta" } } };
      assert.deepEqual(sent, [
        ["c-1", message],
        ["c-2", message],
      ]);
      assert.equal(reads(), 1);
    });

    it("reads the evaluators again when the read is older than the records, and sends the newer read", async () => {
      const stale = { expressions: { beta: { in: ["beta", { var: "groups" }] } }, positions: { beta: 1 } };
      const { fanout, sent, reads } = recordingFanout([stale, beta2]);
      assert.deepEqual(await fanout({ Records: upToReplace() }), { batchItemFailures: [] });
      assert.equal(reads(), 2);
      assert.deepEqual(sent[0], ["c-1", { type: "evaluators.updated", evaluators: beta2.expressions }]);
    });

    it("takes a read without an evaluator the batch created as newer (deleted since), and sends it", async () => {
      const { fanout, sent, reads } = recordingFanout([{ expressions: {}, positions: {} }]);
      assert.deepEqual(await fanout({ Records: upToReplace() }), { batchItemFailures: [] });
      assert.equal(reads(), 1);
      assert.deepEqual(sent[0], ["c-1", { type: "evaluators.updated", evaluators: {} }]);
    });

    it("never sends a read that still shows an evaluator the batch deleted: the batch fails, for the stream to retry", async () => {
      const { fanout, sent, reads } = recordingFanout([beta2]);
      await assert.rejects(fanout({ Records: evaluatorRecords() }), /older than the stream records/);
      assert.deepEqual(sent, []);
      assert.equal(reads(), 3);
      // Once the read shows the delete, it goes out.
      const after = recordingFanout([{ expressions: {}, positions: {} }]);
      assert.deepEqual(await after.fanout({ Records: evaluatorRecords() }), { batchItemFailures: [] });
      assert.deepEqual(after.sent[0], ["c-1", { type: "evaluators.updated", evaluators: {} }]);
    });

    it("fails the batch when the broadcast fails, so the stream retries it", async () => {
      const fanout = makeFanoutHandler({
        connections,
        post: async () => {
          throw new Error("throttled");
        },
        logger: silent,
        evaluators: async () => ({ expressions: {}, positions: {} }),
      });
      await assert.rejects(fanout({ Records: evaluatorRecords() }), /posts failed/);
    });
  });
});

describe("settleBounded", () => {
  it("keeps order, settles every item and never exceeds the limit", async () => {
    let running = 0;
    let peak = 0;
    const results = await settleBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      if (n === 4) throw new Error("four");
      return n * 10;
    });
    assert.equal(peak, 3);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : "rejected")),
      [10, 20, 30, "rejected", 50, 60, 70],
    );
  });
});
