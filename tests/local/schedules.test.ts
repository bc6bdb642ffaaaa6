import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MAX_PENDING_SCHEDULES_PER_FLAG } from "../../handlers/schedules/model";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { inMs, schedulesOf, sleep, untilDone } from "../support/schedules";
import { CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";
import { auditLines } from "../support/auditFiles";

describe("Scheduled changes (/flags/{flagName}/schedules) on the local runtime", function () {
  // Starting a service takes seconds, more on a busy machine.
  this.timeout(90_000);
  let service: RunningService;
  let api: Client;
  let as: (token: string | undefined) => Client;
  let dataDir: string;
  let flagCount = 0;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-schedules-"));
    ({ service, api, as } = await startTestService({ auditDataDir: dataDir }));
  });
  after(async () => {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A new flag with value false. */
  const newFlag = async (): Promise<string> => {
    const flagName = `scheduled-${++flagCount}`;
    assert.equal((await api("POST", "/flags", { body: { flagName, value: false } })).status, 201);
    return flagName;
  };
  const schedule = (flagName: string, body: unknown, client = api) =>
    client("POST", `/flags/${flagName}/schedules`, { body });

  describe("POST", () => {
    it("answers 201 with the pending schedule, which GET lists", async () => {
      const flagName = await newFlag();
      const at = inMs(60_000);

      const created = await schedule(flagName, { at, change: { value: true }, ifMatch: 1 });

      assert.equal(created.status, 201);
      const { id, ...rest } = created.body;
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(rest, {
        flagName,
        at,
        change: { value: true },
        ifMatch: 1,
        status: "pending",
        createdBy: "admin",
        createdAt: rest.createdAt,
      });
      assert.deepEqual(await schedulesOf(as(READ_TOKEN), flagName), [created.body]);
    });

    it("keeps the time as UTC to the millisecond whatever offset it was given in", async () => {
      const flagName = await newFlag();
      const at = new Date(Date.now() + 3_600_000);
      const local = `${new Date(at.getTime() + 2 * 3_600_000).toISOString().slice(0, 23)}+02:00`;

      const created = await schedule(flagName, { at: local, change: { value: true } });

      assert.equal(created.status, 201);
      assert.equal(created.body.at, at.toISOString());
    });

    for (const [why, body] of [
      ["at is in the past", { at: inMs(-60_000), change: { value: true } }],
      ["at is over a year ahead", { at: inMs(367 * 24 * 3_600_000), change: { value: true } }],
      ["at is no ISO-8601 date-time", { at: "tomorrow at noon", change: { value: true } }],
      ["at is a date without a time", { at: "2099-01-01", change: { value: true } }],
      ["at is missing", { change: { value: true } }],
      ["change is missing", { at: inMs(60_000) }],
      ["change is not an object", { at: inMs(60_000), change: true }],
      ["change would be refused by PUT (no value)", { at: inMs(60_000), change: { description: "x" } }],
      ["change would be refused by PUT (null value)", { at: inMs(60_000), change: { value: null } }],
      [
        "change would be refused by PUT (default variant not among the variants)",
        { at: inMs(60_000), change: { variants: { on: true }, defaultVariant: "off" } },
      ],
      ["ifMatch is not a version", { at: inMs(60_000), change: { value: true }, ifMatch: 0 }],
      ["ifMatch is text", { at: inMs(60_000), change: { value: true }, ifMatch: "1" }],
      ["the body has an unknown field", { at: inMs(60_000), change: { value: true }, when: "now" }],
    ] as const) {
      it(`answers 400 VALIDATION_FAILED when ${why}, and schedules nothing`, async () => {
        const flagName = await newFlag();

        const response = await schedule(flagName, body);

        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.error.code, "VALIDATION_FAILED");
        assert.deepEqual(await schedulesOf(api, flagName), []);
      });
    }

    it("answers 400 NAME_MISMATCH when the change names another flag", async () => {
      const flagName = await newFlag();

      const response = await schedule(flagName, { at: inMs(60_000), change: { flagName: "other", value: true } });

      assert.equal(response.status, 400);
      assert.equal(response.body.error.code, "NAME_MISMATCH");
    });

    it("answers 404 FLAG_NOT_FOUND for a flag that does not exist", async () => {
      const response = await schedule("no-such-flag", { at: inMs(60_000), change: { value: true } });

      assert.equal(response.status, 404);
      assert.equal(response.body.error.code, "FLAG_NOT_FOUND");
    });

    it(`refuses a pending schedule past a flag's ${MAX_PENDING_SCHEDULES_PER_FLAG} with a 400, and takes one again after a cancel`, async () => {
      const flagName = await newFlag();
      const body = { at: inMs(3_600_000), change: { value: true } };
      const ids: string[] = [];
      for (let i = 0; i < MAX_PENDING_SCHEDULES_PER_FLAG; i++) {
        const created = await schedule(flagName, body);
        assert.equal(created.status, 201);
        ids.push(created.body.id);
      }

      const refused = await schedule(flagName, body);
      assert.deepEqual([refused.status, refused.body.error.code], [400, "VALIDATION_FAILED"]);
      assert.match(refused.body.error.message, /cancel one first/);
      assert.equal((await schedulesOf(api, flagName)).length, MAX_PENDING_SCHEDULES_PER_FLAG);

      await api("DELETE", `/flags/${flagName}/schedules/${ids[0]}`);
      assert.equal((await schedule(flagName, body)).status, 201);
    });

    it("needs the write scope (403 for a read token, 401 without one)", async () => {
      const flagName = await newFlag();
      const body = { at: inMs(60_000), change: { value: true } };

      assert.equal((await schedule(flagName, body, as(READ_TOKEN))).status, 403);
      assert.equal((await schedule(flagName, body, as(CLIENT_TOKEN))).status, 403);
      assert.equal((await schedule(flagName, body, as(undefined))).status, 401);
      assert.deepEqual(await schedulesOf(api, flagName), []);
    });
  });

  describe("GET", () => {
    it("answers 404 FLAG_NOT_FOUND for a flag that does not exist", async () => {
      const response = await api("GET", "/flags/no-such-flag/schedules");

      assert.equal(response.status, 404);
      assert.equal(response.body.error.code, "FLAG_NOT_FOUND");
    });

    it("lists pending ones first, soonest first, then done ones newest first", async () => {
      const flagName = await newFlag();
      const later = (await schedule(flagName, { at: inMs(120_000), change: { value: true } })).body.id;
      const sooner = (await schedule(flagName, { at: inMs(60_000), change: { value: true } })).body.id;
      const first = (await schedule(flagName, { at: inMs(90_000), change: { value: true } })).body.id;
      const second = (await schedule(flagName, { at: inMs(90_000), change: { value: true } })).body.id;
      await api("DELETE", `/flags/${flagName}/schedules/${first}`);
      await sleep(5);
      await api("DELETE", `/flags/${flagName}/schedules/${second}`);

      const listed = await schedulesOf(api, flagName);

      assert.deepEqual(
        listed.map((s) => [s.id, s.status]),
        [
          [sooner, "pending"],
          [later, "pending"],
          [second, "cancelled"],
          [first, "cancelled"],
        ],
      );
    });
  });

  describe("GET one", () => {
    it("answers one schedule by id, 404 for an id the flag does not have", async () => {
      const flagName = await newFlag();
      const created = (await schedule(flagName, { at: inMs(60_000), change: { value: true } })).body;

      const found = await as(READ_TOKEN)("GET", `/flags/${flagName}/schedules/${created.id}`);
      const missing = await api("GET", `/flags/${flagName}/schedules/00000000-0000-4000-8000-000000000000`);

      assert.deepEqual([found.status, found.body], [200, created]);
      assert.deepEqual([missing.status, missing.body.error.code], [404, "SCHEDULE_NOT_FOUND"]);
    });
  });

  describe("DELETE", () => {
    it("answers 204 and the schedule never runs", async () => {
      const flagName = await newFlag();
      const { id } = (await schedule(flagName, { at: inMs(700), change: { value: true } })).body;

      const response = await api("DELETE", `/flags/${flagName}/schedules/${id}`);
      await sleep(1_500);

      assert.equal(response.status, 204);
      const [cancelled] = await schedulesOf(api, flagName);
      assert.equal(cancelled.status, "cancelled");
      assert.equal(cancelled.cancelledBy, "admin");
      const flag = (await api("GET", `/flags/${flagName}`)).body;
      assert.deepEqual([flag.value, flag.version], [false, 1]);
    });

    it("answers 409 SCHEDULE_DONE for a schedule that was cancelled or applied", async () => {
      const flagName = await newFlag();
      const cancelled = (await schedule(flagName, { at: inMs(60_000), change: { value: true } })).body.id;
      await api("DELETE", `/flags/${flagName}/schedules/${cancelled}`);
      const applied = (await schedule(flagName, { at: inMs(300), change: { value: true } })).body.id;
      await untilDone(api, flagName, applied);

      for (const id of [cancelled, applied]) {
        const response = await api("DELETE", `/flags/${flagName}/schedules/${id}`);
        assert.equal(response.status, 409);
        assert.equal(response.body.error.code, "SCHEDULE_DONE");
      }
    });

    it("answers 404 for an unknown schedule or an unknown flag", async () => {
      const flagName = await newFlag();
      const unknown = "00000000-0000-4000-8000-000000000000";

      const noSchedule = await api("DELETE", `/flags/${flagName}/schedules/${unknown}`);
      const malformed = await api("DELETE", `/flags/${flagName}/schedules/not-an-id`);
      const noFlag = await api("DELETE", `/flags/no-such-flag/schedules/${unknown}`);

      assert.deepEqual(
        [noSchedule, malformed, noFlag].map((r) => [r.status, r.body.error.code]),
        [
          [404, "SCHEDULE_NOT_FOUND"],
          [404, "SCHEDULE_NOT_FOUND"],
          [404, "FLAG_NOT_FOUND"],
        ],
      );
    });

    it("needs the write scope", async () => {
      const flagName = await newFlag();
      const { id } = (await schedule(flagName, { at: inMs(60_000), change: { value: true } })).body;

      assert.equal((await as(READ_TOKEN)("DELETE", `/flags/${flagName}/schedules/${id}`)).status, 403);
      assert.equal((await schedulesOf(api, flagName))[0].status, "pending");
    });
  });

  describe("applying", () => {
    it("applies the change once, within a second of its time, as a PUT by its creator", async () => {
      const flagName = await newFlag();
      const at = inMs(1_500);
      const { id } = (await schedule(flagName, { at, change: { value: true, description: "flipped" } })).body;

      const done = await untilDone(api, flagName, id);

      assert.equal(done.status, "applied");
      assert.equal(done.version, 2);
      const lateness = Date.parse(done.appliedAt) - Date.parse(at);
      assert.ok(lateness >= 0 && lateness < 1_000, `applied ${lateness} ms after its time`);
      console.log(`      (applied ${lateness} ms after its time)`);
      const flag = (await api("GET", `/flags/${flagName}`)).body;
      assert.deepEqual(
        [flag.value, flag.description, flag.version, flag.updatedBy, flag.updatedAt],
        [true, "flipped", 2, "admin", done.appliedAt],
      );
      await sleep(300);
      assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 2, "applied once");
    });

    it("records failed with VERSION_CONFLICT when the flag moved past ifMatch, and changes nothing", async () => {
      const flagName = await newFlag();
      const { id } = (await schedule(flagName, { at: inMs(800), change: { value: true }, ifMatch: 1 })).body;
      await api("PUT", `/flags/${flagName}`, { body: { value: "moved on" } });

      const done = await untilDone(api, flagName, id);

      assert.equal(done.status, "failed");
      assert.equal(done.error.code, "VERSION_CONFLICT");
      assert.match(done.error.message, /version 2/);
      const flag = (await api("GET", `/flags/${flagName}`)).body;
      assert.deepEqual([flag.value, flag.version], ["moved on", 2]);
    });

    it("records failed when the change no longer fits (a $ref to an evaluator deleted meanwhile)", async () => {
      const flagName = await newFlag();
      await api("PUT", "/evaluators/short-lived", { body: { expression: { "==": [1, 1] } } });
      const change = {
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: { if: [{ $ref: "short-lived" }, "on", "off"] },
      };
      const { id } = (await schedule(flagName, { at: inMs(800), change })).body;
      await api("DELETE", "/evaluators/short-lived");

      const done = await untilDone(api, flagName, id);

      assert.equal(done.status, "failed");
      assert.equal(done.error.code, "VALIDATION_FAILED");
      assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1);
    });

    it("is cancelled when its flag is deleted: a flag re-created under the name is left alone", async () => {
      const flagName = await newFlag();
      const { id } = (await schedule(flagName, { at: inMs(1_000), change: { value: true } })).body;

      assert.equal((await api("DELETE", `/flags/${flagName}`)).status, 204);
      await api("POST", "/flags", { body: { flagName, value: "new life" } });
      await sleep(1_500);

      const [cancelled] = await schedulesOf(api, flagName);
      assert.deepEqual([cancelled.id, cancelled.status], [id, "cancelled"]);
      const flag = (await api("GET", `/flags/${flagName}`)).body;
      assert.deepEqual([flag.value, flag.version], ["new life", 1]);
    });

    it("names the schedule in the audit line of the version it made (via), and only there", async () => {
      const flagName = await newFlag();
      const { id } = (await schedule(flagName, { at: inMs(300), change: { value: true } })).body;
      await untilDone(api, flagName, id);
      await api("PUT", `/flags/${flagName}`, { body: { value: false } });
      await api("GET", `/flags/${flagName}`);

      const deadline = Date.now() + 10_000;
      const mine = () => auditLines(dataDir).filter((line) => line.flagName === flagName);
      while (mine().length < 4 && Date.now() < deadline) await sleep(25);

      assert.deepEqual(
        mine().map((line) => [line.eventName, line.version, line.actor, line.via]),
        [
          ["created", 1, "admin", undefined],
          ["updated", 2, "admin", { schedule: id }],
          ["updated", 3, "admin", undefined],
          ["read", 3, "admin", undefined],
        ],
      );
    });
  });
});
