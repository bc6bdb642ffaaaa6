import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";

const IS_BALLMER = { "==": ["ballmer@macrosoft.com", { var: ["email"] }] };
const refFlag = (flagName: string, evaluator: string) => ({
  flagName,
  variants: { hi: "hi", bye: "bye" },
  defaultVariant: "bye",
  targeting: { if: [{ $ref: evaluator }, "hi", "bye"] },
});

describe("rich flags and shared evaluators on the local runtime", () => {
  let service: RunningService;
  let api: Client;

  before(async () => {
    ({ service, api } = await startTestService());
  });
  after(() => service?.stop());

  describe("/evaluators", () => {
    it("PUT creates (201), replaces (200), and GET lists and reads it", async () => {
      const created = await api("PUT", "/evaluators/is-ballmer", { body: { expression: IS_BALLMER } });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body.expression, IS_BALLMER);
      assert.equal(created.body.version, 1);
      const replaced = await api("PUT", "/evaluators/is-ballmer", { body: { expression: { "==": [1, 1] } } });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.version, 2);
      await api("PUT", "/evaluators/is-ballmer", { body: { expression: IS_BALLMER } });
      const list = await api("GET", "/evaluators");
      assert.deepEqual(
        list.body.evaluators.map((e: { name: string }) => e.name),
        ["is-ballmer"],
      );
      assert.deepEqual((await api("GET", "/evaluators/is-ballmer")).body.expression, IS_BALLMER);
      assert.equal((await api("GET", "/evaluators/nope")).status, 404);
    });

    it("refuses an expression that is not JsonLogic, naming the problem", async () => {
      for (const expression of [undefined, "yes", [1], { frobnicate: [1] }]) {
        const result = await api("PUT", "/evaluators/bad", { body: { expression } });
        assert.equal(result.status, 400, JSON.stringify(expression));
        assert.equal(result.body.error.code, "VALIDATION_FAILED");
        assert.match(result.body.error.message, /expression/);
      }
      assert.equal((await api("GET", "/evaluators/bad")).status, 404);
    });

    it("refuses to delete an evaluator a flag references (409), then deletes it once none does", async () => {
      await api("PUT", "/evaluators/in-use", { body: { expression: IS_BALLMER } });
      assert.equal((await api("POST", "/flags", { body: refFlag("uses-it", "in-use") })).status, 201);
      const refused = await api("DELETE", "/evaluators/in-use");
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, "EVALUATOR_IN_USE");
      assert.match(refused.body.error.message, /1 flag/);
      assert.equal((await api("GET", "/evaluators/in-use")).body.usedByFlags, 1);

      // An update that drops the reference releases it.
      assert.equal((await api("PUT", "/flags/uses-it", { body: { value: true } })).status, 200);
      assert.equal((await api("DELETE", "/evaluators/in-use")).status, 204);
      assert.equal((await api("DELETE", "/evaluators/in-use")).status, 404);
    });

    it("releases a deleted flag's references", async () => {
      await api("PUT", "/evaluators/released", { body: { expression: IS_BALLMER } });
      await api("POST", "/flags", { body: refFlag("will-go", "released") });
      assert.equal((await api("DELETE", "/flags/will-go")).status, 204);
      assert.equal((await api("DELETE", "/evaluators/released")).status, 204);
    });

    it("never lets a flag reference an evaluator that a concurrent delete removed", async () => {
      for (let i = 0; i < 15; i++) {
        await api("PUT", `/evaluators/race-${i}`, { body: { expression: IS_BALLMER } });
        const [flag, removal] = await Promise.all([
          api("POST", "/flags", { body: refFlag(`racer-${i}`, `race-${i}`) }),
          api("DELETE", `/evaluators/race-${i}`),
        ]);
        const outcome = `${flag.status}/${removal.status}`;
        assert.ok(outcome === "201/409" || outcome === "400/204", `create ${flag.status}, delete ${removal.status}`);
        const evaluatorExists = (await api("GET", `/evaluators/race-${i}`)).status === 200;
        const flagExists = (await api("GET", `/flags/racer-${i}`)).status === 200;
        assert.ok(!flagExists || evaluatorExists, "a stored flag references a missing evaluator");
      }
    });
  });

  describe("rich flags over REST", () => {
    it("keeps every rich field through create, read, list and update, with value = the default variant's", async () => {
      await api("PUT", "/evaluators/beta-users", { body: { expression: { in: [{ var: "plan" }, ["beta"]] } } });
      const body = {
        flagName: "rich",
        description: "a rich flag",
        state: "ENABLED",
        variants: { small: 10, big: 1000 },
        defaultVariant: "small",
        targeting: { if: [{ $ref: "beta-users" }, "big", null] },
        metadata: { owner: "growth", ticket: 42, experimental: true },
      };
      const created = await api("POST", "/flags", { body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { flagName: _name, ...fields } = body;
      for (const [field, expected] of Object.entries(fields)) assert.deepEqual(created.body[field], expected, field);
      assert.equal(created.body.value, 10);
      assert.deepEqual((await api("GET", "/flags/rich")).body.targeting, body.targeting);
      const listed = (await api("GET", "/flags")).body.flags.find((f: { flagName: string }) => f.flagName === "rich");
      assert.deepEqual(listed.variants, body.variants);

      const updated = await api("PUT", "/flags/rich", {
        body: { ...fields, state: "DISABLED", defaultVariant: "big" },
      });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.state, "DISABLED");
      assert.equal(updated.body.value, 1000);
      assert.equal(updated.body.version, 2);
    });

    it("keeps a plain value flag exactly as before: no rich fields appear", async () => {
      const created = await api("POST", "/flags", { body: { flagName: "plain-old", value: true } });
      assert.deepEqual(Object.keys(created.body).sort(), [
        "createdAt",
        "createdBy",
        "flagName",
        "updatedAt",
        "updatedBy",
        "value",
        "version",
      ]);
    });

    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        "an unknown default variant",
        { variants: { on: true }, defaultVariant: "of" },
        /defaultVariant: 'of' is not one of the variants/,
      ],
      [
        "mixed variant types",
        { variants: { on: true, off: "no" }, defaultVariant: "on" },
        /variants: .*'on' is a boolean.*'off' is a string/,
      ],
      [
        "a value differing from the default variant",
        { value: false, variants: { on: true, off: false }, defaultVariant: "on" },
        /value: must equal variants\.on/,
      ],
      [
        "targeting that is not JsonLogic",
        { variants: { on: true }, defaultVariant: "on", targeting: { frobnicate: [1] } },
        /targeting.*frobnicate/,
      ],
      [
        "targeting that is not an object",
        { variants: { on: true }, defaultVariant: "on", targeting: "on" },
        /targeting: must be a JsonLogic object/,
      ],
      [
        "a $ref to no evaluator",
        { variants: { on: true }, defaultVariant: "on", targeting: { if: [{ $ref: "ghost" }, "on"] } },
        /targeting: \$ref 'ghost' names no evaluator/,
      ],
      ["an unknown state", { state: "PAUSED", value: 1 }, /state: must be ENABLED or DISABLED/],
      ["metadata that is not a primitive", { value: 1, metadata: { a: { b: 1 } } }, /metadata\.a/],
      ["an array variant", { variants: { a: [1] }, defaultVariant: "a" }, /variants\.a: .*array/],
      ["targeting without variants", { value: 1, targeting: { if: [true, "a"] } }, /variants: required/],
    ];
    for (const [what, definition, message] of invalid) {
      it(`refuses ${what} with 400 VALIDATION_FAILED saying where, and stores nothing`, async () => {
        const flagName = `bad-${what.replace(/[^a-z]+/g, "-")}`;
        const result = await api("POST", "/flags", { body: { flagName, ...definition } });
        assert.equal(result.status, 400, JSON.stringify(result.body));
        assert.equal(result.body.error.code, "VALIDATION_FAILED");
        assert.match(result.body.error.message, message);
        assert.equal((await api("GET", `/flags/${flagName}`)).status, 404);
      });
    }

    it("refuses an invalid definition on update too, leaving the flag as it was", async () => {
      await api("POST", "/flags", { body: { flagName: "stays", variants: { a: 1, b: 2 }, defaultVariant: "a" } });
      const result = await api("PUT", "/flags/stays", { body: { variants: { a: 1, b: 2 }, defaultVariant: "c" } });
      assert.equal(result.status, 400);
      const flag = (await api("GET", "/flags/stays")).body;
      assert.equal(flag.defaultVariant, "a");
      assert.equal(flag.version, 1);
    });
  });
});
