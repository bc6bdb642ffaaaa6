import { strict as assert } from "node:assert";
import { type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { isServiceError } from "../../handlers/errors";
import { makeFlagStore } from "../../handlers/flags/store";
import { parseCreateFlag, parseUpdateFlag } from "../../handlers/flags/validation";
import { makeEvaluationRecorder } from "../../handlers/ofrep/lastEvaluated";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { type CapacityMeter, meterCapacity } from "../support/capacity";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

describe("reads that do not write (flag store against DynamoDB Local, ReturnConsumedCapacity)", () => {
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let tableName: string;
  let meter: CapacityMeter;
  let clock = Date.parse("2026-12-01T10:00:00.000Z");
  const now = () => new Date(clock);

  before(async () => {
    const dynamo = await sharedDynamo();
    client = localDynamoClient(dynamo.endpoint);
    tableName = uniqueTableName("reads");
    await ensureFlagsTable(client, tableName);
    doc = DynamoDBDocumentClient.from(client);
    meter = meterCapacity(client);
  });
  after(() => client.destroy());

  const store = () => makeFlagStore({ doc, tableName, now });
  const create = (flagName: string) => store().create(parseCreateFlag({ flagName, value: "v" }), "admin");
  const stored = async (flagName: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true }))).Item;

  it("100 reads of one flag within a minute cost 1 write (1 WCU) and 100 GetItems", async () => {
    await create("hot");
    meter.reset();
    const flags = store();
    const stamps = new Set<string | undefined>();
    for (let i = 0; i < 100; i++) {
      clock += 500; // 50 s in all
      stamps.add((await flags.read("hot")).lastAccessed);
    }
    assert.deepEqual(meter.requests, { GetItem: 100, UpdateItem: 1 });
    assert.equal(meter.writeRequests(), 1);
    assert.equal(meter.writeUnits, 1);
    assert.equal(meter.readUnits, 100, "one strongly consistent read of a small item each");
    assert.deepEqual([...stamps], [new Date(clock - 99 * 500).toISOString()], "every read shows the one stamp");
  });

  it("stamps again once the stamp is a minute old, and says so in what it returns", async () => {
    clock += 60_000;
    meter.reset();
    const flag = await store().read("hot");
    assert.equal(meter.writeRequests(), 1);
    assert.equal(flag.lastAccessed, now().toISOString());
    assert.equal((await stored("hot"))?.lastAccessed, now().toISOString());
  });

  it("never moves a stamp backwards: a reader whose clock is behind only reads", async () => {
    const before = (await stored("hot"))?.lastAccessed;
    const behind = makeFlagStore({ doc, tableName, now: () => new Date(clock - 5 * 60_000) });
    meter.reset();
    await behind.read("hot");
    assert.equal(meter.writeRequests(), 0);
    assert.equal((await stored("hot"))?.lastAccessed, before);
  });

  it("concurrent first reads all show the stamp; once it is stored, reads write nothing", async () => {
    await create("burst");
    const results = await Promise.all(Array.from({ length: 20 }, () => store().read("burst")));
    assert.ok(results.every((flag) => flag.lastAccessed === now().toISOString()));
    assert.equal((await stored("burst"))?.lastAccessed, now().toISOString());
    meter.reset();
    await store().read("burst");
    assert.equal(meter.writeRequests(), 0, "once stamped, a read writes nothing");
  });

  it("a stamp racing an update keeps the update (value, version), and the update drops the stamp marker", async () => {
    await create("raced");
    clock += 60_000;
    // The stamp is sent after another writer's update committed (between the GetItem and it).
    const racing = Object.create(doc) as DynamoDBDocumentClient;
    racing.send = (async (command: unknown) => {
      if (command instanceof UpdateCommand) {
        await store().update("raced", parseUpdateFlag({ value: "updated" }, "raced"), "ci-bot");
      }
      return doc.send(command as GetCommand);
    }) as DynamoDBDocumentClient["send"];
    const read = await makeFlagStore({ doc: racing, tableName, now }).read("raced");
    assert.equal(read.version, 1, "the read returns what it read");
    const item = await stored("raced");
    assert.deepEqual([item?.valueJson, item?.version, item?.updatedBy], ['"updated"', 2, "ci-bot"]);
    assert.equal(item?.lastAccessed, now().toISOString());
    // The next update is a change again: its record must pass the stream filter.
    await store().update("raced", parseUpdateFlag({ value: "again" }, "raced"), "ci-bot");
    assert.equal((await stored("raced"))?.stamp, undefined);
  });

  it("a stamp racing a delete does not bring the flag back", async () => {
    await create("doomed");
    clock += 60_000;
    const racing = Object.create(doc) as DynamoDBDocumentClient;
    racing.send = (async (command: unknown) => {
      if (command instanceof UpdateCommand) await store().remove("doomed", "admin");
      return doc.send(command as GetCommand);
    }) as DynamoDBDocumentClient["send"];
    const read = await makeFlagStore({ doc: racing, tableName, now }).read("doomed");
    assert.equal(read.flagName, "doomed", "it existed when it was read");
    assert.equal(await stored("doomed"), undefined);
  });

  it("a read of a missing flag is FLAG_NOT_FOUND and writes nothing", async () => {
    meter.reset();
    await assert.rejects(
      store().read("never"),
      (error: unknown) => isServiceError(error) && error.code === "FLAG_NOT_FOUND",
    );
    assert.equal(meter.writeRequests(), 0);
    assert.equal(await stored("never"), undefined);
  });

  it("marks every stamp (read, evaluation, pre-delete) and no change", async () => {
    await create("marked");
    assert.equal((await stored("marked"))?.stamp, undefined, "a create is no stamp");
    clock += 60_000;
    await store().read("marked");
    assert.equal((await stored("marked"))?.stamp, "lastAccessed");
    await store().update("marked", parseUpdateFlag({ value: "w" }, "marked"), "admin");
    assert.equal((await stored("marked"))?.stamp, undefined, "an update is no stamp");
    const recorder = makeEvaluationRecorder({
      doc,
      tableName,
      clock: () => clock,
      onFailure: (_, e) => assert.fail(String(e)),
    });
    await recorder.record(["marked"]);
    assert.equal((await stored("marked"))?.stamp, "lastEvaluated");
    assert.ok(!("stamp" in (await store().read("marked"))), "the marker is not part of the API's flag");
  });
});
