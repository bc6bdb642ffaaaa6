import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { isServiceError } from "../../handlers/errors";
import { evaluatorEntryBytes, evaluatorsJsonBytes } from "../../handlers/evaluators/size";
import { type EvaluatorStore, makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor, FLAG_SET_KEY } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { BOUNDS } from "../../packages/openfeature-provider/src/evaluation/limits";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

const OVERHEAD = JSON.stringify({ in: [{ var: "email" }, [""]] }).length;
/** An expression whose JSON is exactly `bytes` long. */
const sized = (bytes: number) => ({ in: [{ var: "email" }, ["x".repeat(bytes - OVERHEAD)]] });

describe("evaluator sizes (pure)", () => {
  it("adds up, evaluator by evaluator, to the bytes of JSON.stringify({name: expression, ...})", () => {
    const expression = fc.oneof(
      fc.record({ "==": fc.tuple(fc.record({ var: fc.string() }), fc.string({ unit: "grapheme" })) }),
      fc.record({ in: fc.tuple(fc.record({ var: fc.string() }), fc.array(fc.string({ unit: "binary" }))) }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), expression), (evaluators) => {
        const entries = Object.entries(evaluators).reduce(
          (sum, [name, e]) => sum + evaluatorEntryBytes(name, JSON.stringify(e)),
          0,
        );
        assert.equal(evaluatorsJsonBytes(entries), Buffer.byteLength(JSON.stringify(evaluators)));
      }),
    );
  });
});

describe("evaluator store (against DynamoDB Local): the evaluators' running size", () => {
  let doc: DynamoDBDocumentClient;
  let tableName: string;
  const storeWith = (client: DynamoDBDocumentClient): EvaluatorStore =>
    makeEvaluatorStore({
      doc: client,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    });
  const flagSet = async () =>
    (
      await doc.send(
        new GetCommand({ TableName: evaluatorsTableFor(tableName), Key: { name: FLAG_SET_KEY }, ConsistentRead: true }),
      )
    ).Item ?? {};
  /** The bytes of every evaluator's JSON, as clients receive them. */
  const sharedBytes = async () => Buffer.byteLength(JSON.stringify((await storeWith(doc).state()).expressions));
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => assert.fail("expected the write to be refused"),
      (caught: unknown) => caught,
    );
    assert.ok(isServiceError(error), String(error));
    return error;
  };

  beforeEach(async () => {
    const client = localDynamoClient((await sharedDynamo()).endpoint);
    tableName = uniqueTableName("evaluator-store");
    await ensureFlagsTable(client, tableName);
    doc = DynamoDBDocumentClient.from(client);
  });
  afterEach(() => doc.destroy());

  it("keeps the size on the flag-set item through creates, replaces and deletes", async () => {
    const store = storeWith(doc);
    await store.put("a", sized(1000), "admin");
    await store.put("b", { "==": [1, "é"] }, "admin");
    await store.put("a", sized(100), "admin");
    await store.remove("b", "admin");
    await store.put("c", sized(500), "admin");

    assert.equal(evaluatorsJsonBytes(Number((await flagSet()).evaluatorsBytes)), await sharedBytes());
  });

  it("counts the evaluators once when an earlier version kept no size, and bounds them from then on", async () => {
    const store = storeWith(doc);
    await store.put("old-1", sized(30_000), "admin");
    await store.put("old-2", sized(30_000), "admin");
    // As an earlier version of the service left it: evaluators, but no running size.
    await doc.send(
      new UpdateCommand({
        TableName: evaluatorsTableFor(tableName),
        Key: { name: FLAG_SET_KEY },
        UpdateExpression: "REMOVE evaluatorsBytes",
      }),
    );

    await store.put("new", sized(30_000), "admin");

    assert.equal(evaluatorsJsonBytes(Number((await flagSet()).evaluatorsBytes)), await sharedBytes());
    const error = await refusal(store.put("one-too-many", sized(10_000), "admin"));
    assert.match(error.message, /evaluatorsTotalBytes/);
  });

  it("refuses at commit a write that fitted when it read the size, after a concurrent write took the room", async () => {
    const store = storeWith(doc);
    // Room for one more of 30,000 bytes, not for two.
    await store.put("base-1", sized(30_000), "admin");
    await store.put("base-2", sized(30_000), "admin");
    // The other writer commits between this store's read of the size and its transaction.
    let raced = false;
    const racing = Object.create(doc) as DynamoDBDocumentClient;
    racing.send = (async (command: unknown) => {
      if (command instanceof TransactWriteCommand && !raced) {
        raced = true;
        await storeWith(doc).put("rival", sized(30_000), "admin");
      }
      return doc.send(command as never);
    }) as DynamoDBDocumentClient["send"];

    const error = await refusal(storeWith(racing).put("late", sized(30_000), "admin"));

    assert.ok(raced);
    assert.match(error.message, /evaluatorsTotalBytes/);
    assert.deepEqual(Object.keys((await store.state()).expressions), ["base-1", "base-2", "rival"]);
    assert.ok((await sharedBytes()) <= BOUNDS.evaluatorsTotalBytes);
    assert.equal(evaluatorsJsonBytes(Number((await flagSet()).evaluatorsBytes)), await sharedBytes());
  });

  it("counts again when a write changed the evaluators between its count and its transaction", async () => {
    const store = storeWith(doc);
    await store.put("kept", sized(1000), "admin");
    await doc.send(
      new UpdateCommand({
        TableName: evaluatorsTableFor(tableName),
        Key: { name: FLAG_SET_KEY },
        UpdateExpression: "REMOVE evaluatorsBytes",
      }),
    );
    // A delete lands after the count (a Scan) and before the transaction that would set it.
    let raced = false;
    const racing = Object.create(doc) as DynamoDBDocumentClient;
    racing.send = (async (command: unknown) => {
      if (command instanceof TransactWriteCommand && !raced) {
        raced = true;
        await storeWith(doc).remove("kept", "admin");
      }
      return doc.send(command as never);
    }) as DynamoDBDocumentClient["send"];

    await storeWith(racing).put("counted", sized(2000), "admin");

    assert.ok(raced);
    assert.deepEqual(Object.keys((await store.state()).expressions), ["counted"]);
    assert.equal(evaluatorsJsonBytes(Number((await flagSet()).evaluatorsBytes)), await sharedBytes());
  });
});
