import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunningService } from "../../local/service";
import { FlagSet } from "../../packages/openfeature-provider/src/flagSet";
import type { Flag } from "../../packages/openfeature-provider/src/protocol";
import { uniqueTableName } from "../support/hooks";
import { type Client, client } from "../support/http";
import { serviceOverTable, startTestService } from "../support/localService";
import { inMs, schedulesOf, sleep, untilDone } from "../support/schedules";
import { ADMIN_TOKEN, READ_TOKEN } from "../support/tokens";
import { auditLines } from "../support/auditFiles";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** A flag with two string variants, `old` served to everyone (with targeting for `beta` users). */
const checkout = (flagName: string) => ({
  flagName,
  variants: { old: "old-checkout", new: "new-checkout" },
  defaultVariant: "old",
  targeting: { if: [{ "==": [{ var: "plan" }, "beta"] }, "new", null] },
});

/** The variant the provider's evaluator (flagd-core, as applications embed it) gives each key under `flag`. */
function variantsByKey(flag: Flag, keys: string[], context: Record<string, unknown> = {}): Map<string, string> {
  const set = new FlagSet(quiet);
  set.replace([flag], {});
  const result = new Map<string, string>();
  for (const key of keys) {
    const details = set.resolve("string", flag.flagName, "fallback", { targetingKey: key, ...context } as never);
    result.set(key, String(details.variant));
  }
  return result;
}

const KEYS = Array.from({ length: 4000 }, (_, i) => `user-${i}`);

/** Polls a rollout until `done(rollout)` (or 10 s). */
async function untilRollout(
  api: Client,
  flagName: string,
  done: (rollout: Record<string, any>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await api("GET", `/flags/${flagName}/rollout`);
    if (response.status === 200 && done(response.body)) return response.body;
    if (Date.now() > deadline) throw new Error(`rollout of ${flagName}: ${JSON.stringify(response.body)}`);
    await sleep(25);
  }
}

describe("Progressive rollouts (/flags/{flagName}/rollout) on the local runtime", function () {
  this.timeout(90_000);
  let service: RunningService;
  let api: Client;
  let as: (token: string | undefined) => Client;
  let dataDir: string;
  let count = 0;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-rollouts-"));
    ({ service, api, as } = await startTestService({ auditDataDir: dataDir }));
  });
  after(async () => {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const newFlag = async (): Promise<string> => {
    const flagName = `rollout-${++count}`;
    const created = await api("POST", "/flags", { body: checkout(flagName) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return flagName;
  };
  const start = (flagName: string, body: unknown, caller = api) =>
    caller("PUT", `/flags/${flagName}/rollout`, { body });

  it("ramps 1 % → 10 % → 50 % → 100 %: each step an audited version, stable and monotone per key", async () => {
    const flagName = await newFlag();
    const steps = [
      { percent: 1, holdSeconds: 1 },
      { percent: 10, holdSeconds: 1 },
      { percent: 50, holdSeconds: 1 },
      { percent: 100 },
    ];
    const started = await start(flagName, { variant: "new", steps });

    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.deepEqual(
      { ...started.body, startedAt: "t", nextStepAt: "t" },
      {
        flagName,
        variant: "new",
        steps,
        status: "running",
        step: 0,
        percent: 1,
        baseVersion: 1,
        startedAt: "t",
        startedBy: "admin",
        nextStepAt: "t",
        version: 2,
      },
    );
    const due = Date.parse(started.body.nextStepAt) - Date.parse(started.body.startedAt);
    assert.ok(due >= 1_000 && due < 1_100, `the next step is due a second after the start, not ${due} ms`);

    const done = await untilRollout(api, flagName, (rollout) => rollout.status === "completed");
    assert.deepEqual([done.step, done.percent, done.version, done.nextStepAt], [3, 100, 5, undefined]);

    // Every step is a version of its own, made by the starter, in order.
    const versions = (await api("GET", `/flags/${flagName}/history`)).body.versions.reverse();
    assert.deepEqual(
      versions.map((v: { version: number; actor: string }) => [v.version, v.actor]),
      [
        [1, "admin"],
        [2, "admin"],
        [3, "admin"],
        [4, "admin"],
        [5, "admin"],
      ],
    );
    // Each version serves `new` to its percentage of keys (±1.5 points over 4,000 keys); a key
    // that got it keeps it as the percentage rises; a beta user has it throughout.
    let before = new Set<string>();
    for (const [i, percent] of [0, 1, 10, 50, 100].entries()) {
      const flag = versions[i].flag as Flag;
      const served = variantsByKey(flag, KEYS);
      const on = new Set(KEYS.filter((key) => served.get(key) === "new"));
      assert.ok(
        Math.abs((on.size / KEYS.length) * 100 - percent) <= 1.5,
        `v${i + 1}: ${on.size} of 4000 at ${percent} %`,
      );
      for (const key of before) assert.ok(on.has(key), `${key} lost the variant at ${percent} %`);
      assert.ok(KEYS.every((key) => ["old", "new"].includes(served.get(key) as string)));
      assert.ok([...variantsByKey(flag, KEYS.slice(0, 50), { plan: "beta" }).values()].every((v) => v === "new"));
      before = on;
    }

    // The audit lines name the rollout.
    await sleep(300);
    const lines = auditLines(dataDir).filter((line) => line.flagName === flagName && line.eventName === "updated");
    assert.deepEqual(
      lines.map((line) => [line.version, line.via]),
      [2, 3, 4, 5].map((version) => [version, { rollout: started.body.startedAt }]),
    );
  });

  it("OFREP serves each key what the provider's evaluator gives it, and key-less requests what the flag served before", async () => {
    const flagName = await newFlag();
    await start(flagName, { variant: "new", steps: [{ percent: 30 }] });
    const flag = (await api("GET", `/flags/${flagName}`)).body as Flag;
    const keys = KEYS.slice(0, 60);
    const expected = variantsByKey(flag, keys);

    for (const key of keys) {
      const answer = await as(READ_TOKEN)("POST", `/ofrep/v1/evaluate/flags/${flagName}`, {
        body: { context: { targetingKey: key } },
      });
      assert.equal(answer.body.variant, expected.get(key), key);
    }
    assert.ok([...expected.values()].includes("new") && [...expected.values()].includes("old"));
    const keyless = await as(READ_TOKEN)("POST", `/ofrep/v1/evaluate/flags/${flagName}`, { body: { context: {} } });
    assert.deepEqual([keyless.body.variant, keyless.body.value], ["old", "old-checkout"]);
  });

  it("completes at once with one step, after which the flag takes PUTs again", async () => {
    const flagName = await newFlag();
    const started = await start(flagName, { variant: "new", steps: [{ percent: 25, holdSeconds: 60 }] });
    assert.deepEqual(
      [started.body.status, started.body.percent, started.body.nextStepAt],
      ["completed", 25, undefined],
    );
    const put = await api("PUT", `/flags/${flagName}`, { body: checkout(flagName) });
    assert.equal(put.status, 200);
  });

  it("holds the flag: a PUT, a second rollout and a schedule's change are refused while it runs", async () => {
    const flagName = await newFlag();
    const steps = [{ percent: 5, holdSeconds: 3_600 }, { percent: 100 }];
    assert.equal((await start(flagName, { variant: "new", steps })).status, 201);
    const scheduled = await api("POST", `/flags/${flagName}/schedules`, {
      body: { at: inMs(300), change: { ...checkout(flagName), defaultVariant: "new" } },
    });

    const put = await api("PUT", `/flags/${flagName}`, { body: { ...checkout(flagName), defaultVariant: "new" } });
    assert.deepEqual([put.status, put.body.error.code], [409, "ROLLOUT_RUNNING"]);
    const again = await start(flagName, { variant: "new", steps });
    assert.deepEqual([again.status, again.body.error.code], [409, "ROLLOUT_RUNNING"]);
    const failed = await untilDone(api, flagName, scheduled.body.id);
    assert.deepEqual([failed.status, failed.error.code], ["failed", "ROLLOUT_RUNNING"]);
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 2);
  });

  it("abort puts the flag back to its definition at baseVersion, as a new version, and stops the ramp", async () => {
    const flagName = await newFlag();
    const base = (await api("GET", `/flags/${flagName}`)).body;
    const started = await start(flagName, {
      variant: "new",
      steps: [{ percent: 10, holdSeconds: 1 }, { percent: 90 }],
      guard: { alarms: ["checkout-5xx"] },
    });
    assert.deepEqual(started.body.guard, { alarms: ["checkout-5xx"] });

    const aborted = await as(ADMIN_TOKEN)("POST", `/flags/${flagName}/rollout/abort`);

    assert.equal(aborted.status, 200, JSON.stringify(aborted.body));
    assert.deepEqual(
      [aborted.body.status, aborted.body.abortedBy, aborted.body.nextStepAt, aborted.body.version],
      ["aborted", "admin", undefined, 3],
    );
    const flag = (await api("GET", `/flags/${flagName}`)).body;
    const definition = (f: Record<string, unknown>) => ({
      variants: f.variants,
      defaultVariant: f.defaultVariant,
      targeting: f.targeting,
    });
    assert.deepEqual(definition(flag), definition(base));
    assert.equal(flag.version, 3);
    // The step that was due does not come.
    await sleep(1_500);
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 3);
    assert.equal((await api("GET", `/flags/${flagName}/rollout`)).body.status, "aborted");
    const again = await as(ADMIN_TOKEN)("POST", `/flags/${flagName}/rollout/abort`);
    assert.deepEqual([again.status, again.body.error.code], [409, "ROLLOUT_NOT_RUNNING"]);
    // The flag takes PUTs again, and a new rollout may start.
    assert.equal((await api("PUT", `/flags/${flagName}`, { body: checkout(flagName) })).status, 200);
    assert.equal((await start(flagName, { variant: "new", steps: [{ percent: 50 }] })).status, 201);
  });

  it("refuses bad rollouts with a 400 and changes nothing", async () => {
    const flagName = await newFlag();
    const plain = `plain-${++count}`;
    await api("POST", "/flags", { body: { flagName: plain, value: true } });
    const cases: Array<[string, unknown]> = [
      [flagName, { variant: "missing", steps: [{ percent: 10 }] }],
      [flagName, { variant: "new", steps: [{ percent: 50 }, { percent: 50 }] }],
      [flagName, { variant: "new", steps: [{ percent: 50 }, { percent: 10 }] }],
      [flagName, { variant: "new", steps: [] }],
      [flagName, { variant: "new", steps: [{ percent: 0 }] }],
      [flagName, { variant: "new", steps: [{ percent: 101 }] }],
      [flagName, { variant: "new", steps: [{ percent: 10.5 }] }],
      [flagName, { variant: "new", steps: [{ percent: 10, holdSeconds: -1 }] }],
      [flagName, { variant: "new", steps: [{ percent: 10 }], guard: { alarms: [] } }],
      [flagName, { variant: "new", steps: [{ percent: 10 }], extra: 1 }],
      [flagName, ["not", "an", "object"]],
      [plain, { variant: "on", steps: [{ percent: 10 }] }],
    ];
    for (const [name, body] of cases) {
      const response = await start(name, body);
      assert.deepEqual([response.status, response.body.error?.code], [400, "VALIDATION_FAILED"], JSON.stringify(body));
    }
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1);
    assert.equal((await api("GET", `/flags/${flagName}/rollout`)).status, 404);
  });

  it("answers 404 for an unknown flag or a flag without a rollout, and 403 to a read token's start", async () => {
    const flagName = await newFlag();
    const missing = await start("no-such-flag", { variant: "new", steps: [{ percent: 10 }] });
    assert.deepEqual([missing.status, missing.body.error.code], [404, "FLAG_NOT_FOUND"]);
    const none = await as(READ_TOKEN)("GET", `/flags/${flagName}/rollout`);
    assert.deepEqual([none.status, none.body.error.code], [404, "ROLLOUT_NOT_FOUND"]);
    const abort = await api("POST", `/flags/${flagName}/rollout/abort`);
    assert.deepEqual([abort.status, abort.body.error.code], [404, "ROLLOUT_NOT_FOUND"]);
    const unknownFlag = await as(READ_TOKEN)("GET", "/flags/no-such-flag/rollout");
    assert.deepEqual([unknownFlag.status, unknownFlag.body.error.code], [404, "FLAG_NOT_FOUND"]);
    const forbidden = await start(flagName, { variant: "new", steps: [{ percent: 10 }] }, as(READ_TOKEN));
    assert.equal(forbidden.status, 403);
  });

  it("a deleted flag's running rollout ends, and its schedules are cancelled", async () => {
    const flagName = await newFlag();
    await start(flagName, { variant: "new", steps: [{ percent: 10, holdSeconds: 1 }, { percent: 20 }] });
    assert.equal((await api("DELETE", `/flags/${flagName}`)).status, 204);
    const rollout = (await api("GET", `/flags/${flagName}/rollout`)).body;
    assert.deepEqual([rollout.status, rollout.abortedBy], ["aborted", "admin"]);
    await sleep(1_500);
    assert.equal((await api("GET", `/flags/${flagName}`)).status, 404);
    assert.deepEqual(
      await schedulesOf(api, flagName).catch((error: Error) => error.message),
      `GET schedules of ${flagName}: 404`,
    );
  });
});

describe("Rollouts across a restart of the local runtime", function () {
  this.timeout(60_000);

  it("takes the step that came due while the runtime was down when it starts, once", async () => {
    const tableName = uniqueTableName("rollout-restart");
    const serviceOn = () => serviceOverTable(tableName);
    const first = await serviceOn();
    const api = client(first.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: checkout("overnight") });
    const steps = [{ percent: 10, holdSeconds: 1 }, { percent: 20, holdSeconds: 3_600 }, { percent: 100 }];
    assert.equal((await api("PUT", "/flags/overnight/rollout", { body: { variant: "new", steps } })).status, 201);
    await first.stop();
    await sleep(1_500);

    const [a, b] = await Promise.all([serviceOn(), serviceOn()]);
    try {
      const rollout = await untilRollout(client(a.url, ADMIN_TOKEN), "overnight", (r) => r.step === 1);
      await sleep(500);
      assert.deepEqual([rollout.status, rollout.percent, rollout.version], ["running", 20, 3]);
      assert.equal((await client(b.url, ADMIN_TOKEN)("GET", "/flags/overnight")).body.version, 3);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
