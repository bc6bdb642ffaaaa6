import { strict as assert } from "node:assert";
import { ACCOUNT, ofType, REGION, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const FUNCTION = "aws:lambda/function:Function";

/**
 * Whether an EventBridge pattern of exact values (the only kind the guard uses: arrays of strings,
 * nested objects) matches an event: every field the pattern names must hold one of its values.
 */
function matches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = event[field];
    if (Array.isArray(expected)) return expected.includes(actual);
    if (typeof actual !== "object" || actual === null) return false;
    return matches(expected as Record<string, unknown>, actual as Record<string, unknown>);
  });
}

/** A CloudWatch alarm state change as EventBridge delivers it (the fields a pattern can name). */
const alarmEvent = (state: string, source = "aws.cloudwatch") => ({
  version: "0",
  id: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
  "detail-type": "CloudWatch Alarm State Change",
  source,
  account: ACCOUNT,
  region: REGION,
  resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:checkout-5xx`],
  detail: {
    alarmName: "checkout-5xx",
    state: { value: state, reason: "Threshold Crossed" },
    previousState: { value: "OK" },
  },
});

describe("The rollouts' guard (Pulumi mocks): CloudWatch alarms entering ALARM reach the schedule runner", () => {
  let resources: RecordedResource[];
  before(async () => {
    resources = await runProgram();
  });

  it("has a rule on the default bus that admits an alarm entering ALARM, and nothing else", () => {
    const rule = single(resources, "aws:cloudwatch/eventRule:EventRule", "-rollout-guard");
    assert.equal(rule.inputs.eventBusName, undefined, "CloudWatch sends alarm state changes to the default bus");
    const pattern = JSON.parse(rule.inputs.eventPattern) as Record<string, unknown>;
    assert.ok(matches(pattern, alarmEvent("ALARM")));
    assert.ok(!matches(pattern, alarmEvent("OK")));
    assert.ok(!matches(pattern, alarmEvent("INSUFFICIENT_DATA")));
    assert.ok(!matches(pattern, alarmEvent("ALARM", "com.example.fake")));
  });

  it("targets the schedule runner, which only that rule's events may invoke, retrying for at most 10 minutes", () => {
    const rule = single(resources, "aws:cloudwatch/eventRule:EventRule", "-rollout-guard");
    const runner = single(resources, FUNCTION, "-schedule-runner");
    const target = single(resources, "aws:cloudwatch/eventTarget:EventTarget", "-rollout-guard");
    assert.equal(target.inputs.rule, rule.name);
    assert.equal(target.inputs.arn, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${runner.name}`);
    assert.ok(target.inputs.retryPolicy.maximumEventAgeInSeconds <= 600);
    const permissions = ofType(resources, "aws:lambda/permission:Permission").filter(
      (p) => p.inputs.principal === "events.amazonaws.com",
    );
    assert.deepEqual(
      permissions.map((p) => [p.inputs.function, p.inputs.sourceArn]),
      [[runner.name, `arn:aws:events:${REGION}:${ACCOUNT}:rule/${rule.name}`]],
    );
  });
});
