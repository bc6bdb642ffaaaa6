import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { makeFlagStore } from "../../handlers/flags/store";
import { evaluateBulk, evaluateSingle } from "../../handlers/ofrep/evaluate";
import {
  compileFlagSet,
  FLAG_SET_CHECK_MS,
  makeDynamoFlagSetSource,
  makeFlagSetCache,
} from "../../handlers/ofrep/flagSet";
import type { FlagItem } from "../../handlers/flags/model";
import { LAST_EVALUATED_RESOLUTION_MS, makeEvaluationRecorder } from "../../handlers/ofrep/lastEvaluated";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

/** A document client that counts the DynamoDB operations it sends, by name. */
function countingClient(endpoint: string) {
  const client = localDynamoClient(endpoint);
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName as string, (counts.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countOperations" },
  );
  return {
    doc: DynamoDBDocumentClient.from(client),
    count: (name: string) => counts.get(name) ?? 0,
    reset: () => counts.clear(),
    destroy: () => client.destroy(),
  };
}

describe("OFREP cost against DynamoDB Local (operations counted)", () => {
  let counter: ReturnType<typeof countingClient>;
  let tableName: string;
  let now = 1_000_000;
  const clock = () => now;

  before(async () => {
    const dynamo = await sharedDynamo();
    tableName = uniqueTableName("ofrep-cost");
    const admin = localDynamoClient(dynamo.endpoint);
    await ensureFlagsTable(admin, tableName);
    const doc = DynamoDBDocumentClient.from(admin);
    const evaluators = makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    });
    await evaluators.put("vip", { var: "vip" }, "admin");
    const flags = makeFlagStore({ doc, tableName });
    for (let i = 0; i < 100; i++) {
      await flags.create(
        {
          flagName: `flag-${i}`,
          value: "a",
          definition: { variants: { a: "a", b: "b" }, defaultVariant: "a", targeting: { if: [{ $ref: "vip" }, "b"] } },
          refs: ["vip"],
        },
        "admin",
      );
    }
    admin.destroy();
    counter = countingClient(dynamo.endpoint);
  });
  after(() => counter?.destroy());

  const cache = () =>
    makeFlagSetCache({
      source: makeDynamoFlagSetSource({
        doc: counter.doc,
        flagsTable: tableName,
        evaluatorsTable: evaluatorsTableFor(tableName),
      }),
      clock,
    });

  it("a single evaluation costs at most one read (the version check), and no write", async () => {
    const flagSet = cache();
    await flagSet.get(); // cold start: one check, one load
    counter.reset();
    for (let i = 0; i < 1000; i++) {
      now += 1; // 1000 evaluations over one second
      const set = await flagSet.get();
      assert.equal(evaluateSingle(set, `flag-${i % 100}`, { vip: i % 2 === 0 }).status, 200);
    }
    const checks = counter.count("GetItemCommand");
    assert.ok(checks <= Math.ceil(1000 / FLAG_SET_CHECK_MS) + 1, `${checks} version checks`);
    assert.equal(counter.count("ScanCommand"), 0, "nothing changed, so nothing was reloaded");
    for (const write of ["PutItemCommand", "UpdateItemCommand", "TransactWriteItemsCommand"]) {
      assert.equal(counter.count(write), 0, write);
    }
  });

  it("a bulk evaluation of 100 flags does not scan per request", async () => {
    const flagSet = cache();
    await flagSet.get();
    counter.reset();
    for (let i = 0; i < 50; i++) {
      now += 10;
      assert.equal(evaluateBulk(await flagSet.get(), { vip: true }).flags.length, 100);
    }
    assert.equal(counter.count("ScanCommand"), 0);
    assert.ok(counter.count("GetItemCommand") <= 3);
  });

  it("reloads once after a change, at the first check after it", async () => {
    const flagSet = cache();
    await flagSet.get();
    const doc = counter.doc;
    await makeFlagStore({ doc, tableName }).update("flag-0", { value: "changed" }, "admin");
    counter.reset();
    now += FLAG_SET_CHECK_MS;
    const set = await flagSet.get();
    assert.deepEqual(evaluateSingle(set, "flag-0", {}).body, {
      key: "flag-0",
      value: "changed",
      reason: "STATIC",
      variant: "default",
    });
    assert.equal(counter.count("GetItemCommand"), 1);
    assert.ok(counter.count("ScanCommand") >= 2, "both tables reloaded");
    counter.reset();
    now += FLAG_SET_CHECK_MS;
    await flagSet.get();
    assert.equal(counter.count("ScanCommand"), 0, "and not again");
  });

  it("stamps lastEvaluated at most once a minute per flag per container", async () => {
    const recorder = makeEvaluationRecorder({
      doc: counter.doc,
      tableName,
      clock,
      onFailure: (name, error) => assert.fail(`${name}: ${String(error)}`),
    });
    counter.reset();
    const names = Array.from({ length: 20 }, (_, i) => `flag-${i}`);
    for (let i = 0; i < 50; i++) {
      now += 100;
      await recorder.record(names);
    }
    assert.equal(counter.count("UpdateItemCommand"), 20, "one stamp per flag for 50 bulk evaluations");
    now += LAST_EVALUATED_RESOLUTION_MS;
    await recorder.record(names);
    assert.equal(counter.count("UpdateItemCommand"), 40, "and one more a minute later");
  });

  it("rebuilds only the flags that changed, or whose evaluators did, on a reload", () => {
    const item = (flagName: string, version: number, refs: string[] = []): FlagItem => ({
      flagName,
      valueJson: "true",
      definitionJson: JSON.stringify({
        variants: { on: true, off: false },
        defaultVariant: "on",
        ...(refs.length > 0 ? { targeting: { if: [{ $ref: refs[0] }, "off", "on"] } } : {}),
      }),
      refs,
      version,
      createdAt: "t",
      updatedAt: `t${version}`,
      createdBy: null,
      updatedBy: null,
    });
    const first = compileFlagSet(1, [item("a", 1), item("b", 1), item("c", 1, ["e"])], { e: { var: "x" } });
    const second = compileFlagSet(2, [item("a", 1), item("b", 2), item("c", 1, ["e"])], { e: { var: "y" } }, first);
    assert.equal(second.flags.get("a"), first.flags.get("a"), "unchanged: reused");
    assert.notEqual(second.flags.get("b"), first.flags.get("b"), "updated: rebuilt");
    assert.notEqual(second.flags.get("c"), first.flags.get("c"), "its evaluator changed: rebuilt");
    assert.deepEqual(evaluateSingle(second, "c", { y: true }).body, {
      key: "c",
      value: false,
      reason: "TARGETING_MATCH",
      variant: "off",
    });
  });
});
