import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { parseCreateFlag } from "../../handlers/flags/validation";
import { makeFlagStore } from "../../handlers/flags/store";
import { atExpression } from "../../handlers/schedules/clock";
import { type ScheduleItem, schedulesTableFor, sortSchedules, itemToSchedule } from "../../handlers/schedules/model";
import { makeScheduleRunner } from "../../handlers/schedules/runner";
import { makeScheduleStore } from "../../handlers/schedules/store";
import { parseCreateSchedule, scheduleSchemas } from "../../handlers/schedules/validation";
import { flagSchemas } from "../../handlers/flags/validation";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

const silent = { info: () => undefined, warn: () => undefined };

describe("schedules: pure logic", () => {
  const now = new Date("2026-12-05T10:00:00.000Z");
  const schemas = { schedule: scheduleSchemas(), flag: flagSchemas() };

  it("normalises at to UTC and keeps the change as given", () => {
    const input = parseCreateSchedule(
      { at: "2026-12-05T13:30:00.250+02:00", change: { value: 1e2 }, ifMatch: 4 },
      "f",
      now,
      schemas,
    );

    assert.deepEqual([input.at, input.change, input.ifMatch], ["2026-12-05T11:30:00.250Z", { value: 100 }, 4]);
  });

  it("takes a time a year ahead and refuses one a few days further", () => {
    assert.doesNotThrow(() =>
      parseCreateSchedule({ at: "2027-12-05T10:00:00Z", change: { value: 1 } }, "f", now, schemas),
    );
    assert.throws(
      () => parseCreateSchedule({ at: "2027-12-09T10:00:00Z", change: { value: 1 } }, "f", now, schemas),
      /more than a year ahead/,
    );
  });

  it("writes EventBridge Scheduler's at() in whole UTC seconds, never before the time, at least 5 s ahead", () => {
    assert.equal(atExpression("2026-12-05T11:00:00.001Z", now), "at(2026-12-05T11:00:01)");
    assert.equal(atExpression("2026-12-05T11:00:00.000Z", now), "at(2026-12-05T11:00:00)");
    assert.equal(atExpression("2026-12-05T10:00:01.000Z", now), "at(2026-12-05T10:00:05)");
  });

  it("orders pending soonest first, then done newest first", () => {
    const item = (id: string, status: ScheduleItem["status"], at: string, doneAt?: string): ScheduleItem => ({
      flagName: "f",
      id,
      at,
      changeJson: "{}",
      status,
      createdBy: null,
      createdAt: "2026-12-01T00:00:00Z",
      ...(status === "applied" ? { appliedAt: doneAt, version: 2 } : {}),
      ...(status === "cancelled" ? { cancelledAt: doneAt } : {}),
      ...(status === "failed" ? { failedAt: doneAt, errorCode: "VERSION_CONFLICT", errorMessage: "x" } : {}),
    });
    const sorted = sortSchedules(
      [
        item("p2", "pending", "2026-12-09T00:00:00Z"),
        item("a", "applied", "2026-12-02T00:00:00Z", "2026-12-02T00:00:00Z"),
        item("c", "cancelled", "2026-12-08T00:00:00Z", "2026-12-04T00:00:00Z"),
        item("p1", "pending", "2026-12-07T00:00:00Z"),
        item("x", "failed", "2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z"),
      ].map(itemToSchedule),
    );

    assert.deepEqual(
      sorted.map((s) => s.id),
      ["p1", "p2", "c", "x", "a"],
    );
  });
});

describe("schedules: the runner against DynamoDB Local", () => {
  let doc: DynamoDBDocumentClient;
  let flags: ReturnType<typeof makeFlagStore>;
  let schedules: ReturnType<typeof makeScheduleStore>;
  let run: ReturnType<typeof makeScheduleRunner>;
  let count = 0;
  let flagsTable: string;

  before(async () => {
    const dynamo = await sharedDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    const tableName = uniqueTableName("runner");
    flagsTable = tableName;
    await ensureFlagsTable(client, tableName);
    doc = DynamoDBDocumentClient.from(client);
    flags = makeFlagStore({ doc, tableName });
    schedules = makeScheduleStore({ doc, tableName: schedulesTableFor(tableName), flagsTableName: tableName });
    run = makeScheduleRunner({ flags, schedules, logger: silent });
  });
  after(() => doc.destroy());

  const pending = async (change: unknown = { value: true }): Promise<ScheduleItem> => {
    const flagName = `run-${++count}`;
    await flags.create(parseCreateFlag({ flagName, value: false }), "admin");
    const item: ScheduleItem = {
      flagName,
      id: `00000000-0000-4000-8000-${String(count).padStart(12, "0")}`,
      at: new Date().toISOString(),
      changeJson: JSON.stringify(change),
      status: "pending",
      createdBy: "ci-bot",
      createdAt: new Date().toISOString(),
    };
    await schedules.put(item);
    return item;
  };

  it("applies a schedule invoked five times at once (separate stores) exactly once", async () => {
    const item = await pending();

    // Each its own store, as separate invocations (Scheduler's retries, two runtimes) would be.
    const runners = Array.from({ length: 5 }, () =>
      makeScheduleRunner({ flags: makeFlagStore({ doc, tableName: flagsTable }), schedules, logger: silent }),
    );
    const outcomes = await Promise.all(
      runners.map((runner) => runner({ scheduleId: item.id, flagName: item.flagName })),
    );

    assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ["applied", "skipped", "skipped", "skipped", "skipped"]);
    const flag = await flags.read(item.flagName);
    assert.deepEqual([flag.value, flag.version, flag.updatedBy], [true, 2, "ci-bot"]);
    const stored = await schedules.get(item.flagName, item.id);
    assert.deepEqual([stored?.status, stored?.version], ["applied", 2]);
  });

  it("gives a cancel racing the apply one winner: either cancelled and unchanged, or applied and 409", async () => {
    for (let round = 0; round < 5; round++) {
      const item = await pending();

      const [outcome, cancel] = await Promise.allSettled([
        run({ scheduleId: item.id, flagName: item.flagName }),
        schedules.cancel(item.flagName, item.id, "admin"),
      ]);

      const flag = await flags.read(item.flagName);
      const stored = await schedules.get(item.flagName, item.id);
      if (cancel.status === "fulfilled") {
        assert.deepEqual([stored?.status, flag.version], ["cancelled", 1]);
        assert.equal(outcome.status === "fulfilled" && outcome.value.outcome, "skipped");
      } else {
        assert.equal((cancel.reason as { code: string }).code, "SCHEDULE_DONE");
        assert.deepEqual([stored?.status, flag.version], ["applied", 2]);
      }
    }
  });

  it("records failed, without throwing, for a flag deleted meanwhile", async () => {
    const item = await pending();
    await flags.remove(item.flagName, "admin");

    const outcome = await run({ scheduleId: item.id, flagName: item.flagName });

    assert.deepEqual(outcome, { outcome: "failed", code: "FLAG_NOT_FOUND" });
    assert.equal((await schedules.get(item.flagName, item.id))?.errorCode, "FLAG_NOT_FOUND");
  });

  it("skips, without throwing, an unknown schedule or a malformed event", async () => {
    assert.equal((await run({ scheduleId: "nope", flagName: "nope" })).outcome, "skipped");
    assert.equal((await run({} as never)).outcome, "skipped");
  });

  it("carries via on the version it wrote, and a plain write after it carries none", async () => {
    const item = await pending();
    const raw = async () =>
      (await doc.send(new GetCommand({ TableName: flagsTable, Key: { flagName: item.flagName } }))).Item;
    await run({ scheduleId: item.id, flagName: item.flagName });
    const scheduled = await raw();

    await flags.update(item.flagName, { value: 3 }, "admin");

    assert.deepEqual(scheduled?.via, { schedule: item.id });
    assert.equal((await raw())?.via, undefined);
  });
});
