import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { makeEvaluatorStore } from "../../handlers/evaluators/store";
import { evaluatorsTableFor } from "../../handlers/evaluators/table";
import { historyTableFor } from "../../handlers/flags/history";
import type { FlagItem } from "../../handlers/flags/model";
import { makeFlagStore } from "../../handlers/flags/store";
import type { ClockEvent, ScheduleClock } from "../../handlers/schedules/clock";
import { schedulesTableFor } from "../../handlers/schedules/model";
import { makeScheduleRunner } from "../../handlers/schedules/runner";
import { makeScheduleStore } from "../../handlers/schedules/store";
import type { RolloutStepEvent } from "../../handlers/rollouts/model";
import { makeClockRunner } from "../../handlers/rollouts/runner";
import { makeRollouts } from "../../handlers/rollouts/service";
import { makeRolloutStore } from "../../handlers/rollouts/store";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { sharedDynamo, uniqueTableName } from "../support/hooks";

const quiet = { info: () => {}, warn: () => {} };

/** A clock that only records what it was asked to arm and disarm. */
function recordingClock() {
  const armed: Array<{ id: string; at: string; event?: ClockEvent }> = [];
  const disarmed: string[] = [];
  const clock: ScheduleClock = {
    arm: async (schedule) => {
      armed.push(schedule);
    },
    disarm: async ({ id }) => {
      disarmed.push(id);
    },
  };
  return { clock, armed, disarmed };
}

describe("Rollouts' runner paths (handlers/rollouts) against DynamoDB Local", function () {
  this.timeout(60_000);
  let tableName: string;
  let doc: DynamoDBDocumentClient;
  let now = new Date("2026-12-06T10:00:00.000Z");

  const setUp = (holdRoundingSeconds = 1) => {
    const flags = makeFlagStore({ doc, tableName, now: () => now });
    const store = makeRolloutStore({ doc, tableName: schedulesTableFor(tableName), flagsTableName: tableName });
    const recorded = recordingClock();
    const rollouts = makeRollouts({
      flags,
      rollouts: store,
      clock: recorded.clock,
      holdRoundingSeconds,
      logger: quiet,
      now: () => now,
    });
    const schedules = makeScheduleStore({ doc, tableName: schedulesTableFor(tableName), flagsTableName: tableName });
    const runner = makeClockRunner({
      schedule: makeScheduleRunner({ flags, schedules, logger: quiet }),
      rollouts,
      logger: quiet,
    });
    return { flags, store, rollouts, runner, ...recorded };
  };
  const rawFlag = async (flagName: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true })))
      .Item as FlagItem;
  const alarm = (alarmName: string, value = "ALARM") => ({
    source: "aws.cloudwatch" as const,
    "detail-type": "CloudWatch Alarm State Change" as const,
    detail: { alarmName, state: { value } },
  });
  const rich = {
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: { if: [{ in: [{ var: "email" }, ["a@example.com"]] }, "on", null] },
  };

  before(async () => {
    const client = localDynamoClient((await sharedDynamo()).endpoint);
    tableName = uniqueTableName("rollouts");
    await ensureFlagsTable(client, tableName);
    doc = DynamoDBDocumentClient.from(client);
  });

  it("a guard alarm entering ALARM aborts exactly the running rollouts it guards, back to their base", async () => {
    const { flags, rollouts, runner, store, disarmed } = setUp();
    for (const flagName of ["guarded-a", "guarded-b", "other"]) {
      await flags.create({ flagName, definition: rich, value: false }, "admin");
    }
    const steps = [{ percent: 10, holdSeconds: 600 }, { percent: 100 }];
    await rollouts.start("guarded-a", { variant: "on", steps, guardAlarms: ["api-5xx", "latency"] }, "admin");
    await rollouts.start("guarded-b", { variant: "on", steps, guardAlarms: ["api-5xx"] }, "ops");
    await rollouts.start("other", { variant: "on", steps, guardAlarms: ["something-else"] }, "admin");

    assert.deepEqual(await runner(alarm("api-5xx", "OK")), { aborted: 0 });
    assert.deepEqual(await runner(alarm("api-5xx")), { aborted: 2 });
    assert.deepEqual(await runner(alarm("api-5xx")), { aborted: 0 });

    for (const flagName of ["guarded-a", "guarded-b"]) {
      const rollout = await store.get(flagName);
      assert.deepEqual(
        [rollout?.status, rollout?.abortedByAlarm, rollout?.abortedBy],
        ["aborted", "api-5xx", undefined],
      );
      const item = await rawFlag(flagName);
      // The version the alarm made names it (its audit line's `via`), and carries no actor.
      assert.deepEqual([item.version, item.via, item.updatedBy], [3, { alarm: "api-5xx" }, null]);
      assert.deepEqual(JSON.parse(item.definitionJson as string), rich);
      assert.equal(item.rolloutStartedAt, undefined);
    }
    assert.equal((await store.get("other"))?.status, "running");
    assert.equal(disarmed.length, 2);
  });

  it("takes a step once however often its event is delivered, and never after an abort or for an older rollout", async () => {
    const { flags, rollouts, runner, store, armed } = setUp();
    await flags.create({ flagName: "once", definition: rich, value: false }, "admin");
    const steps = [{ percent: 5, holdSeconds: 1 }, { percent: 20, holdSeconds: 1 }, { percent: 100 }];
    const first = await rollouts.start("once", { variant: "on", steps }, "admin");
    const step1 = armed.at(-1)?.event as RolloutStepEvent;
    assert.deepEqual(step1.rolloutStep, { flagName: "once", startedAt: first.startedAt, step: 1 });

    assert.deepEqual(
      await Promise.all([runner(step1), runner(step1)]).then((r) => r.map((o: any) => o.outcome).sort()),
      ["skipped", "stepped"],
    );
    assert.deepEqual([(await store.get("once"))?.percent, (await rawFlag("once")).version], [20, 3]);

    await rollouts.abort("once", { actor: "admin" });
    const step2 = armed.at(-1)?.event as RolloutStepEvent;
    assert.deepEqual(await runner(step2), { outcome: "skipped" });
    assert.equal((await rawFlag("once")).version, 4);

    // A new rollout: the old one's events change nothing.
    now = new Date(now.getTime() + 1_000);
    await rollouts.start("once", { variant: "on", steps }, "admin");
    assert.deepEqual(await runner(step2), { outcome: "skipped" });
    assert.deepEqual(await runner(step1), { outcome: "skipped" });
    assert.equal((await rawFlag("once")).version, 5);
  });

  it("arms the next step on the clock's retry when arming failed after a step was taken", async () => {
    const { flags, rollouts, runner, store, armed, clock } = setUp();
    await flags.create({ flagName: "healed", definition: rich, value: false }, "admin");
    const steps = [{ percent: 5, holdSeconds: 1 }, { percent: 20, holdSeconds: 1 }, { percent: 100 }];
    await rollouts.start("healed", { variant: "on", steps }, "admin");
    const step1 = armed.at(-1)?.event as RolloutStepEvent;
    const arm = clock.arm;
    clock.arm = async () => {
      throw new Error("Scheduler unreachable");
    };

    await assert.rejects(runner(step1), /Scheduler unreachable/);
    assert.equal((await store.get("healed"))?.step, 1, "the step itself was taken");
    clock.arm = arm;
    const before = armed.length;
    assert.deepEqual(await runner(step1), { outcome: "skipped" });

    assert.equal(armed.length, before + 1);
    assert.deepEqual((armed.at(-1)?.event as RolloutStepEvent).rolloutStep.step, 2);
    assert.deepEqual(await runner(armed.at(-1)?.event as RolloutStepEvent), { outcome: "completed" });
  });

  it("rounds holds up to the clock's precision (whole minutes on AWS)", async () => {
    const { flags, rollouts } = setUp(60);
    await flags.create({ flagName: "rounded", definition: rich, value: false }, "admin");
    const started = await rollouts.start(
      "rounded",
      { variant: "on", steps: [{ percent: 1, holdSeconds: 61 }, { percent: 2 }] },
      "admin",
    );
    assert.equal(Date.parse(started.nextStepAt as string) - Date.parse(started.startedAt), 120_000);
  });

  it("keeps the targeting's evaluator references through the ramp and the abort", async () => {
    const { flags, rollouts } = setUp();
    const evaluators = makeEvaluatorStore({
      doc,
      tableName: evaluatorsTableFor(tableName),
      historyTableName: historyTableFor(tableName),
    });
    await evaluators.put("beta-users", { in: [{ var: "email" }, ["b@example.com"]] }, "admin");
    const withRef = { ...rich, targeting: { if: [{ $ref: "beta-users" }, "on", null] } };
    await flags.create({ flagName: "referencing", definition: withRef, value: false, refs: ["beta-users"] }, "admin");

    await rollouts.start(
      "referencing",
      { variant: "on", steps: [{ percent: 50, holdSeconds: 60 }, { percent: 90 }] },
      "admin",
    );
    assert.deepEqual((await rawFlag("referencing")).refs, ["beta-users"]);
    // The evaluator stays in use while the ramp references it.
    await assert.rejects(evaluators.remove("beta-users", "admin"), { code: "EVALUATOR_IN_USE" });
    await rollouts.abort("referencing", { actor: "admin" });
    const item = await rawFlag("referencing");
    assert.deepEqual([JSON.parse(item.definitionJson as string), item.refs], [withRef, ["beta-users"]]);
  });
});
