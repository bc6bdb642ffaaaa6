import { strict as assert } from "node:assert";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { isServiceError } from "../../handlers/errors";
import { makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import { makeHistoryStore } from "../../handlers/flags/historyStore";
import { makeFlagStore } from "../../handlers/flags/store";
import { makeEvaluationRecorder } from "../../handlers/ofrep/lastEvaluated";
import { parseCreateFlag, parseUpdateFlag } from "../../handlers/flags/validation";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

describe("flag history (store against DynamoDB Local): every change's entry, written atomically with it", () => {
  let doc: DynamoDBDocumentClient;
  let tableName: string;
  let flags: ReturnType<typeof makeFlagStore>;
  let history: ReturnType<typeof makeHistoryStore>;

  before(async () => {
    const dynamo = await sharedDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    tableName = uniqueTableName("history");
    await ensureFlagsTable(client, tableName);
    doc = DynamoDBDocumentClient.from(client);
    flags = makeFlagStore({ doc, tableName });
    history = makeHistoryStore({ doc, tableName, historyTableName: historyTableFor(tableName) });
  });
  after(() => doc.destroy());

  const create = (body: Record<string, unknown>, actor = "admin") => flags.create(parseCreateFlag(body), actor);
  const update = (flagName: string, body: Record<string, unknown>, actor = "admin", ifMatch?: number) =>
    flags.update(flagName, parseUpdateFlag(body, flagName), actor, ifMatch);
  /**
   * An update from a store of its own, as from another Lambda instance: one store runs its updates
   * of a flag one after the other, so only separate stores race at the version condition.
   */
  const updateElsewhere = (flagName: string, body: Record<string, unknown>, actor = "admin", ifMatch?: number) =>
    makeFlagStore({ doc, tableName }).update(flagName, parseUpdateFlag(body, flagName), actor, ifMatch);
  /** The whole history, newest first, following every cursor. */
  const allVersions = async (flagName: string, limit = 100) => {
    const versions = [];
    let cursor: number | undefined;
    for (;;) {
      const page = await history.page(flagName, limit, cursor);
      versions.push(...page.versions);
      if (page.nextCursor === undefined) return versions;
      cursor = JSON.parse(Buffer.from(page.nextCursor, "base64url").toString()).s as number;
    }
  };
  const storedEntries = async (flagName: string) =>
    (
      await doc.send(
        new QueryCommand({
          TableName: historyTableFor(tableName),
          KeyConditionExpression: "flagName = :n",
          ExpressionAttributeValues: { ":n": flagName },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const storedFlag = async (flagName: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true }))).Item;
  const rejection = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    assert.fail("expected the change to be refused");
  };

  it("lists create, update, revert and delete newest first, each with its version, time, actor and flag", async () => {
    const v1 = await create({ flagName: "lifecycle", value: false, description: "first" }, "admin");
    const v2 = await update("lifecycle", { value: true }, "ci-bot", 1);
    // A revert: the old definition, PUT with If-Match of the current version.
    const v3 = await update("lifecycle", { value: v1.value, description: v1.description }, "admin", 2);
    await flags.remove("lifecycle", "ops");

    const versions = await allVersions("lifecycle");

    assert.deepEqual(
      versions.map((v) => [v.version, v.actor, v.flag === null ? null : v.flag.value]),
      [
        [3, "ops", null],
        [3, "admin", false],
        [2, "ci-bot", true],
        [1, "admin", false],
      ],
    );
    assert.deepEqual(versions[1].flag, v3);
    assert.deepEqual(versions[2].flag, v2);
    assert.deepEqual(versions[3].flag, v1);
    assert.equal(versions[3].at, v1.createdAt);
    assert.equal(versions[2].at, v2.updatedAt);
    assert.ok(versions[0].at >= v3.updatedAt, "the deletion is timed when it was made");
  });

  it("keeps a deleted name's history when the name is created again, the new life after it", async () => {
    await create({ flagName: "reborn", value: "a" });
    await update("reborn", { value: "b" });
    await flags.remove("reborn", "admin");
    const again = await create({ flagName: "reborn", value: "c" }, "ci-bot");

    const versions = await allVersions("reborn");

    assert.equal(again.version, 1, "a re-created flag starts again at version 1");
    assert.deepEqual(
      versions.map((v) => [v.version, v.flag === null ? "deleted" : v.flag.value]),
      [
        [1, "c"],
        [2, "deleted"],
        [2, "b"],
        [1, "a"],
      ],
    );
    assert.equal((await storedEntries("reborn")).length, 4, "no entry was overwritten");
  });

  it("writes no entry for reads (lastAccessed) or evaluation stamps (lastEvaluated)", async () => {
    await create({ flagName: "read-often", value: 1 });
    for (let i = 0; i < 5; i++) await flags.read("read-often");
    const recorder = makeEvaluationRecorder({ doc, tableName, onFailure: (_, error) => assert.fail(String(error)) });
    await recorder.record(["read-often"]);
    assert.ok((await storedFlag("read-often"))?.lastEvaluated !== undefined, "the evaluation was stamped");
    const versions = await allVersions("read-often");
    assert.equal(versions.length, 1);
    assert.equal(versions[0].flag?.lastAccessed, undefined, "a version carries no read stamp");
  });

  it("pages with limit and cursor, newest first, without gaps or repeats", async () => {
    await create({ flagName: "paged", value: 0 });
    for (let i = 1; i < 7; i++) await update("paged", { value: i });

    const first = await history.page("paged", 3);
    assert.deepEqual(
      first.versions.map((v) => v.version),
      [7, 6, 5],
    );
    assert.ok(first.nextCursor !== undefined);
    assert.deepEqual(
      (await allVersions("paged", 3)).map((v) => v.version),
      [7, 6, 5, 4, 3, 2, 1],
    );
    const exact = await history.page("paged", 7);
    assert.equal(exact.nextCursor, undefined, "no cursor when nothing follows");
  });

  it("answers 404 FLAG_NOT_FOUND only for a name that never existed, with or without a cursor", async () => {
    for (const cursor of [undefined, 5]) {
      const error = await rejection(history.page("never-was", 10, cursor));
      assert.ok(isServiceError(error) && error.code === "FLAG_NOT_FOUND", String(error));
    }
  });

  it("shows a flag written before history was kept as its current version", async () => {
    const legacy = {
      flagName: "legacy",
      valueJson: '"old"',
      version: 4,
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-02-01T00:00:00.000Z",
      createdBy: "admin",
      updatedBy: "ci-bot",
      lastAccessed: "2026-03-01T00:00:00.000Z",
    };
    await doc.send(new PutCommand({ TableName: tableName, Item: legacy }));

    const [only, ...rest] = (await history.page("legacy", 10)).versions;

    assert.deepEqual(rest, []);
    assert.deepEqual(
      { version: only.version, at: only.at, actor: only.actor, value: only.flag?.value },
      { version: 4, at: legacy.updatedAt, actor: "ci-bot", value: "old" },
    );
    await update("legacy", { value: "new" });
    assert.deepEqual(
      (await allVersions("legacy")).map((v) => v.version),
      [5],
      "its first change starts the history",
    );
  });

  describe("a cancelled change leaves neither the change nor an entry", () => {
    it("an update whose If-Match lost to a concurrent update (412 VERSION_CONFLICT)", async () => {
      await create({ flagName: "conflict", value: 1 });
      await update("conflict", { value: 2 }, "admin", 1);
      const error = await rejection(update("conflict", { value: 3 }, "admin", 1));
      assert.ok(isServiceError(error) && error.code === "VERSION_CONFLICT");
      assert.equal((await storedFlag("conflict"))?.version, 2);
      assert.deepEqual(
        (await allVersions("conflict")).map((v) => v.version),
        [2, 1],
      );
    });

    it("a create and an update whose targeting names a missing evaluator (400)", async () => {
      const rich = (name: string) => ({
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: { if: [{ $ref: name }, "on", "off"] },
      });
      const createError = await rejection(create({ flagName: "dangling", ...rich("no-such-rule") }));
      assert.ok(isServiceError(createError) && createError.status === 400);
      assert.equal(await storedFlag("dangling"), undefined);
      assert.equal((await storedEntries("dangling")).length, 0);

      await create({ flagName: "plain", value: true });
      const updateError = await rejection(update("plain", rich("no-such-rule")));
      assert.ok(isServiceError(updateError) && updateError.status === 400);
      assert.equal((await storedFlag("plain"))?.version, 1);
      assert.equal((await storedEntries("plain")).length, 1);
    });

    it("an update or a delete whose history entry's place is already taken (a fault: 500, nothing applied)", async () => {
      const squat = (flagName: string, seq: number) =>
        doc.send(
          new PutCommand({
            TableName: historyTableFor(tableName),
            Item: { flagName, seq, version: 99, at: "2026-01-01T00:00:00.000Z", actor: "squatter" },
          }),
        );
      await create({ flagName: "squatted", value: "v1" });
      await squat("squatted", 2);
      assert.ok(!isServiceError(await rejection(update("squatted", { value: "v2" }))), "a fault, not the client's");
      const afterUpdate = await storedFlag("squatted");
      assert.deepEqual([afterUpdate?.version, afterUpdate?.valueJson], [1, '"v1"'], "the update did not apply");

      // The deletion's entry would go right after version 1's: the same, taken, place.
      assert.ok(!isServiceError(await rejection(flags.remove("squatted", "admin"))));
      assert.equal((await storedFlag("squatted"))?.version, 1, "the delete did not apply");

      assert.deepEqual(
        (await storedEntries("squatted")).map((e) => [e.seq, e.actor]),
        [
          [1, "admin"],
          [2, "squatter"],
        ],
        "no entry of the refused changes was written",
      );
    });
  });

  it("gives 16 concurrent updates of one flag a gap-free history, one entry per write, each the flag it returned", async () => {
    await create({ flagName: "contended", value: -1 });
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => updateElsewhere("contended", { value: i }, `writer-${i}`)),
    );

    const versions = await allVersions("contended");

    assert.deepEqual(
      versions.map((v) => v.version),
      Array.from({ length: 17 }, (_, i) => 17 - i),
    );
    for (const result of results) {
      const entry = versions.find((v) => v.version === result.version);
      assert.deepEqual(entry?.flag, result, `version ${result.version} is the flag its writer got back`);
      assert.equal(entry?.actor, result.updatedBy);
    }
    assert.equal(new Set(results.map((r) => r.value)).size, 16, "every write is kept");
  });

  it("runs one store's concurrent updates of a flag one after the other: no transaction is lost and retried", async () => {
    await create({ flagName: "one-lane", value: -1 });
    let transactions = 0;
    const counting = {
      send: (command: Parameters<DynamoDBDocumentClient["send"]>[0]) => {
        if (command instanceof TransactWriteCommand) transactions += 1;
        return doc.send(command);
      },
    } as DynamoDBDocumentClient;
    const store = makeFlagStore({ doc: counting, tableName });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.update("one-lane", parseUpdateFlag({ value: i }), `writer-${i}`)),
    );
    assert.deepEqual(
      results.map((r) => r.version).sort((a, b) => a - b),
      Array.from({ length: 12 }, (_, i) => i + 2),
    );
    assert.equal(transactions, 12, "one transaction per update");
  });

  it("gives exactly one entry per version when concurrent updates all send the same If-Match", async () => {
    await create({ flagName: "if-match-race", value: 0 });
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => updateElsewhere("if-match-race", { value: i + 1 }, "admin", 1)),
    );
    const won = settled.filter((s) => s.status === "fulfilled");
    assert.equal(won.length, 1);
    assert.deepEqual(
      (await allVersions("if-match-race")).map((v) => v.version),
      [2, 1],
    );
  });

  it("gives concurrent deletes and re-creates of one name a history with one entry per successful change", async () => {
    await create({ flagName: "churn", value: 0 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0 ? flags.remove("churn", `deleter-${i}`) : create({ flagName: "churn", value: i }, `creator-${i}`),
      ),
    );
    const succeeded = outcomes.filter((o) => o.status === "fulfilled").length;
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        assert.ok(isServiceError(outcome.reason), `refused as a client error, not a fault: ${outcome.reason}`);
      }
    }

    const versions = await allVersions("churn");

    assert.equal(versions.length, 1 + succeeded);
    // Lives alternate: a deletion entry always follows (is newer than) a live version.
    const kinds = versions.map((v) => (v.flag === null ? "deleted" : "live")).reverse();
    kinds.forEach((kind, i) => assert.equal(kind, i % 2 === 0 ? "live" : "deleted", kinds.join(",")));
    const current = await storedFlag("churn");
    assert.equal(current === undefined, kinds.at(-1) === "deleted", "the newest entry matches the table");
  });

  it("does not let an evaluator change write a flag history entry", async () => {
    const evaluators = makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    });
    await evaluators.put("eu-only", { "==": [{ var: "country" }, "de"] }, "admin");
    assert.equal((await storedEntries("eu-only")).length, 0);
  });
});
