import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { makeFlagStore } from "../../handlers/flags/store";
import { parseCreateFlag, parseUpdateFlag } from "../../handlers/flags/validation";
import { makeEvaluationRecorder } from "../../handlers/ofrep/lastEvaluated";
import { matchesAnyFilter, matchesFilter } from "../../handlers/realtime/messages";
import { EVALUATORS_FILTER, FLAGS_STREAM_FILTERS } from "../../handlers/realtime/table";
import { localDynamoClient } from "../../local/dynamodb";
import { startStreamPoller } from "../../local/streams";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

type Pattern = Record<string, unknown>;
/** The patterns exactly as the event source mapping and the Pipe receive them (JSON text). */
const deployed = (patterns: readonly object[]): Pattern[] =>
  patterns.map((pattern) => JSON.parse(JSON.stringify(pattern)) as Pattern);
const version = (image: unknown) => (image as { version?: { N?: string } } | undefined)?.version?.N;
/** What a consumer must see: a create, a delete, or a write that moved the version. */
const isChange = (record: DynamoDBRecord) =>
  record.eventName !== "MODIFY" || version(record.dynamodb?.OldImage) !== version(record.dynamodb?.NewImage);
const stampOf = (record: DynamoDBRecord) =>
  (record.dynamodb?.NewImage as { stamp?: { S?: string } } | undefined)?.stamp?.S;

describe("stream filters against real DynamoDB Local stream records: every change passes, no stamp does", () => {
  const all: DynamoDBRecord[] = [];
  const filtered: DynamoDBRecord[] = [];
  const evaluatorRecords: DynamoDBRecord[] = [];
  let clock = Date.parse("2026-12-01T10:00:00.000Z");

  before(async () => {
    const dynamo = await sharedDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    const tableName = uniqueTableName("filters");
    try {
      await ensureFlagsTable(client, tableName);
      const common = { dynamo: client, endpoint: dynamo.endpoint };
      // Every record, and what the local runtime's poller delivers with the deployed filters.
      const pollers = await Promise.all([
        startStreamPoller({ ...common, tableName, handler: async (e) => void all.push(...e.Records) }),
        startStreamPoller({
          ...common,
          tableName,
          filters: deployed(FLAGS_STREAM_FILTERS),
          handler: async (e) => void filtered.push(...e.Records),
        }),
        startStreamPoller({
          ...common,
          tableName: evaluatorsTableFor(tableName),
          handler: async (e) => void evaluatorRecords.push(...e.Records),
        }),
      ]);
      const doc = DynamoDBDocumentClient.from(client);
      const flags = makeFlagStore({ doc, tableName, now: () => new Date(clock) });
      const evaluators = makeEvaluatorStore({
        doc,
        tableName: evaluatorsTableFor(tableName),
        historyTableName: historyTableFor(tableName),
      });
      const recorder = makeEvaluationRecorder({ doc, tableName, clock: () => clock, onFailure: () => {} });
      const rich = (value: string) => ({
        variants: { a: "a", b: "b" },
        defaultVariant: value,
        targeting: { if: [{ $ref: "beta" }, "b"] },
      });

      await evaluators.put("beta", { in: [{ var: "plan" }, ["beta"]] }, "admin");
      await flags.create(parseCreateFlag({ flagName: "f", value: 1 }), "admin");
      await flags.read("f"); // stamp
      await flags.read("f"); // within the minute: no record at all
      await recorder.record(["f"]); // stamp
      await flags.update("f", parseUpdateFlag({ value: 2 }, "f"), "ci-bot");
      clock += 61_000;
      await flags.read("f"); // stamp again, after an update
      await flags.update("f", parseUpdateFlag({ value: 3, description: "d" }, "f"), "ci-bot", 2);
      await flags.update("f", parseUpdateFlag(rich("a"), "f"), "ci-bot");
      await evaluators.put("beta", { in: [{ var: "plan" }, ["beta", "pilot"]] }, "admin");
      clock += 61_000;
      await recorder.record(["f"]); // stamp
      await flags.remove("f", "admin"); // its pre-delete stamp, then the REMOVE
      await flags.create(parseCreateFlag({ flagName: "f", value: "again" }), "admin");
      await flags.create(parseCreateFlag({ flagName: "never-read", value: true }), "admin");
      await flags.remove("never-read", "admin");
      await evaluators.remove("beta", "admin");

      const deadline = Date.now() + 15_000;
      // 3 creates, 3 updates, 2 deletes; 4 read or evaluation stamps, 2 pre-delete stamps.
      while ((all.length < 14 || filtered.length < 8 || evaluatorRecords.length < 6) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may arrive
      await Promise.all(pollers.map((poller) => poller.stop()));
    } finally {
      client.destroy();
    }
  });

  it("captured every kind of write: creates, updates, deletes and all three kinds of stamp", () => {
    assert.deepEqual(
      all.map((r) => (isChange(r) ? r.eventName : `stamp ${stampOf(r)}`)),
      [
        "INSERT",
        "stamp lastAccessed",
        "stamp lastEvaluated",
        "MODIFY",
        "stamp lastAccessed",
        "MODIFY",
        "MODIFY",
        "stamp lastEvaluated",
        "stamp deletedBy",
        "REMOVE",
        "INSERT",
        "INSERT",
        "stamp deletedBy",
        "REMOVE",
      ],
    );
  });

  it("the deployed patterns pass exactly the changes of the flags table", () => {
    const patterns = deployed(FLAGS_STREAM_FILTERS);
    for (const record of all) {
      assert.equal(matchesAnyFilter(record, patterns), isChange(record), `${record.eventName} ${stampOf(record)}`);
    }
  });

  it("the local runtime's poller delivers exactly those records, in order", () => {
    assert.deepEqual(
      filtered.map((r) => r.eventID),
      all.filter(isChange).map((r) => r.eventID),
    );
  });

  it("the evaluators table's pattern still passes every create, update and delete of an evaluator", () => {
    const pattern = deployed([EVALUATORS_FILTER])[0];
    const ofBeta = evaluatorRecords.filter((r) => r.dynamodb?.Keys?.name?.S === "beta" && isChange(r));
    assert.deepEqual(
      ofBeta.map((r) => r.eventName),
      ["INSERT", "MODIFY", "REMOVE"],
    );
    assert.ok(ofBeta.every((record) => matchesFilter(record, pattern)));
  });
});

describe("stream filter matcher (the subset of Lambda's and Pipes' pattern syntax the service uses)", () => {
  const record = {
    eventName: "MODIFY",
    dynamodb: { NewImage: { flagName: { S: "x" }, stamp: { S: "lastAccessed" } } },
  };

  it("`exists` looks at a leaf; a missing path is absent all the way down", () => {
    assert.equal(matchesFilter(record, { dynamodb: { NewImage: { stamp: { S: [{ exists: true }] } } } }), true);
    assert.equal(matchesFilter(record, { dynamodb: { NewImage: { stamp: { S: [{ exists: false }] } } } }), false);
    assert.equal(matchesFilter(record, { dynamodb: { OldImage: { stamp: { S: [{ exists: false }] } } } }), true);
    assert.equal(matchesFilter({}, { dynamodb: { NewImage: { stamp: { S: [{ exists: true }] } } } }), false);
  });

  it("a pattern's fields all match (AND), a field's values any (OR), patterns any (OR)", () => {
    assert.equal(matchesFilter(record, { eventName: ["INSERT", "MODIFY"] }), true);
    assert.equal(
      matchesFilter(record, { eventName: ["MODIFY"], dynamodb: { NewImage: { flagName: { S: ["y"] } } } }),
      false,
    );
    assert.equal(matchesAnyFilter(record, [{ eventName: ["INSERT"] }, { eventName: ["MODIFY"] }]), true);
    assert.equal(matchesAnyFilter(record, []), false);
  });

  it("`anything-but` needs the field present", () => {
    assert.equal(matchesFilter(record, { eventName: [{ "anything-but": ["INSERT"] }] }), true);
    assert.equal(matchesFilter(record, { eventName: [{ "anything-but": ["MODIFY"] }] }), false);
    assert.equal(matchesFilter(record, { missing: [{ "anything-but": ["MODIFY"] }] }), false);
  });
});
