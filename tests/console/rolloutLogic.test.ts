import * as assert from "node:assert/strict";
import {
  outcomeText,
  planText,
  relativeTime,
  type Rollout,
  type RolloutForm,
  rolloutRequest,
} from "../../console/src/logic/rollout";

const form = (fields: Partial<RolloutForm> = {}): RolloutForm => ({
  variant: "new",
  percents: "1, 10, 50, 100",
  hold: "30",
  holdUnit: "minutes",
  alarms: "",
  ...fields,
});

const rollout = (fields: Partial<Rollout> = {}): Rollout => ({
  flagName: "checkout",
  variant: "new",
  steps: [{ percent: 10, holdSeconds: 60 }, { percent: 100 }],
  status: "aborted",
  step: 0,
  percent: 10,
  baseVersion: 1,
  startedAt: "2026-12-06T03:00:00.000Z",
  startedBy: "admin",
  ...fields,
});

describe("console rollout form: rolloutRequest", () => {
  it("holds every step but the last, in seconds of the chosen unit", () => {
    const checked = rolloutRequest(form({ percents: "1, 10 50;100%", hold: "1.5", holdUnit: "hours" }));

    assert.deepEqual(checked, {
      ok: true,
      body: {
        variant: "new",
        steps: [
          { percent: 1, holdSeconds: 5_400 },
          { percent: 10, holdSeconds: 5_400 },
          { percent: 50, holdSeconds: 5_400 },
          { percent: 100 },
        ],
      },
    });
  });

  it("names guard alarms split at commas and new lines, and sends no guard for none", () => {
    const guarded = rolloutRequest(form({ alarms: " checkout 5xx ,\nlatency,, " }));
    const unguarded = rolloutRequest(form({ alarms: " , " }));

    assert.deepEqual(guarded.ok && guarded.body.guard, { alarms: ["checkout 5xx", "latency"] });
    assert.equal(unguarded.ok && "guard" in unguarded.body, false);
  });

  it("refuses percentages that are not whole numbers and a negative hold, leaving the rest to the API", () => {
    assert.deepEqual(rolloutRequest(form({ percents: "1, ten, 2.5", hold: "-1" })), {
      ok: false,
      errors: ["Percentages: ten, 2.5 is not a whole number", "Hold each step: a number of minutes, 0 or more"],
    });
    assert.deepEqual(rolloutRequest(form({ percents: " , " })), {
      ok: false,
      errors: ["Percentages: give at least one, e.g. 1, 10, 50, 100"],
    });
    // Falling percents are the API's to refuse (its message is shown as it is).
    assert.equal(rolloutRequest(form({ percents: "50, 10" })).ok, true);
  });
});

describe("console rollout display", () => {
  it("plans each step with its hold", () => {
    assert.equal(
      planText([
        { percent: 1, holdSeconds: 90 },
        { percent: 10, holdSeconds: 7_200 },
        { percent: 50 },
        { percent: 100 },
      ]),
      "1 % (1 min 30 s) → 10 % (2 h) → 50 % → 100 %",
    );
  });

  it("says how far the next step is in seconds, minutes, hours or days", () => {
    const now = Date.parse("2026-12-06T03:00:00.000Z");
    assert.deepEqual(
      [40_000, 600_000, 7_200_000, 3 * 86_400_000, -5_000].map((ms) => relativeTime(now + ms, now, "en")),
      ["in 40 seconds", "in 10 minutes", "in 2 hours", "in 3 days", "5 seconds ago"],
    );
  });

  it("tells who or which alarm aborted a rollout, and why one stopped on its own", () => {
    assert.deepEqual(
      [
        outcomeText(rollout({ abortedBy: "admin" })),
        outcomeText(rollout({ abortedByAlarm: "checkout-5xx" })),
        outcomeText(rollout({ error: { code: "FLAG_NOT_FOUND", message: "the flag was deleted" } })),
        outcomeText(rollout({ status: "completed", step: 1, percent: 100 })),
      ],
      [
        "aborted by admin at 10 %",
        "aborted by guard alarm checkout-5xx at 10 %",
        "aborted at 10 % (the flag was deleted)",
        "completed at 100 %",
      ],
    );
  });
});
