import { strict as assert } from "node:assert";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";

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
  let as: (token: string | undefined) => Client;

  before(async () => {
    ({ service, api, as } = await startTestService());
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

  describe("versions and If-Match", () => {
    it("stamps version 1 and who and when on create, +1 and the replacer on every replace", async () => {
      const created = await api("PUT", "/evaluators/stamped", { body: { expression: IS_BALLMER } });
      assert.equal(created.status, 201);
      assert.deepEqual(
        [created.body.version, created.body.createdBy, created.body.updatedBy, created.body.usedByFlags],
        [1, "admin", "admin", 0],
      );
      assert.equal(created.body.createdAt, created.body.updatedAt);
      assert.equal(created.headers.get("etag"), '"1"');

      const replaced = await api("PUT", "/evaluators/stamped", { body: { expression: { "==": [1, 1] } } });
      assert.equal(replaced.body.version, 2);
      assert.equal(replaced.body.createdAt, created.body.createdAt);
      assert.ok(replaced.body.updatedAt >= created.body.updatedAt);
      assert.deepEqual((await api("GET", "/evaluators/stamped")).body, replaced.body);
    });

    it("returns 412 VERSION_CONFLICT when If-Match names an older version, and changes nothing", async () => {
      await api("PUT", "/evaluators/guarded", { body: { expression: IS_BALLMER } });
      const current = await api("PUT", "/evaluators/guarded", {
        body: { expression: { "==": [1, 1] } },
        headers: { "If-Match": "1" },
      });
      assert.equal(current.status, 200);

      const stale = await api("PUT", "/evaluators/guarded", {
        body: { expression: { "==": [2, 2] } },
        headers: { "If-Match": '"1"' },
      });

      assert.equal(stale.status, 412);
      assert.equal(stale.body.error.code, "VERSION_CONFLICT");
      assert.match(stale.body.error.message, /version 2, not 1/);
      const stored = (await api("GET", "/evaluators/guarded")).body;
      assert.deepEqual([stored.version, stored.expression], [2, { "==": [1, 1] }]);
      assert.equal((await api("GET", "/evaluators/guarded/history")).body.versions.length, 2);
    });

    it("returns 412 when If-Match names a version of an evaluator that does not exist, and 400 for a malformed one", async () => {
      const missing = await api("PUT", "/evaluators/not-yet", {
        body: { expression: IS_BALLMER },
        headers: { "If-Match": "1" },
      });
      assert.equal(missing.status, 412);
      assert.equal((await api("GET", "/evaluators/not-yet")).status, 404);

      const malformed = await api("PUT", "/evaluators/not-yet", {
        body: { expression: IS_BALLMER },
        headers: { "If-Match": "latest" },
      });
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.error.message, /If-Match must be an evaluator version/);
    });

    it("lets exactly one of concurrent replaces with the same If-Match win; the others get 412", async () => {
      await api("PUT", "/evaluators/contended", { body: { expression: IS_BALLMER } });

      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          api("PUT", "/evaluators/contended", {
            body: { expression: { "==": [{ var: "n" }, i] } },
            headers: { "If-Match": "1" },
          }),
        ),
      );

      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
      const winner = results.find((r) => r.status === 200)?.body;
      const stored = (await api("GET", "/evaluators/contended")).body;
      assert.deepEqual([stored.version, stored.expression], [2, winner.expression]);
      const versions = (await api("GET", "/evaluators/contended/history")).body.versions;
      assert.deepEqual(
        versions.map((v: { version: number }) => v.version),
        [2, 1],
      );
    });

    it("gives concurrent replaces without If-Match one version each, none lost", async () => {
      await api("PUT", "/evaluators/busy", { body: { expression: IS_BALLMER } });

      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          api("PUT", "/evaluators/busy", { body: { expression: { "==": [{ var: "n" }, i] } } }),
        ),
      );

      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
      );
      assert.deepEqual(
        results.map((r) => r.body.version).sort((a, b) => a - b),
        [2, 3, 4, 5, 6, 7],
      );
      const versions = (await api("GET", "/evaluators/busy/history")).body.versions;
      assert.deepEqual(
        versions.map((v: { version: number }) => v.version),
        [7, 6, 5, 4, 3, 2, 1],
      );
      // Each entry is exactly what its PUT answered.
      for (const result of results) {
        const entry = versions.find((v: { version: number }) => v.version === result.body.version);
        const { usedByFlags: _count, ...version } = result.body;
        assert.deepEqual(entry.evaluator, version);
      }
    });
  });

  describe("GET /evaluators/{name}/history", () => {
    const history = (name: string, query = "") => api("GET", `/evaluators/${name}/history${query}`);

    it("lists every version with who and when, newest first, and stays readable after a delete", async () => {
      const created = await api("PUT", "/evaluators/chronicled", { body: { expression: IS_BALLMER } });
      const replaced = await api("PUT", "/evaluators/chronicled", {
        body: { expression: { "==": [1, 1] } },
        headers: { "If-Match": "1" },
      });
      assert.equal((await api("DELETE", "/evaluators/chronicled")).status, 204);

      const response = await history("chronicled");

      assert.equal(response.status, 200);
      assert.equal(response.body.nextCursor, undefined);
      const [deletion, v2, v1] = response.body.versions;
      assert.deepEqual(Object.keys(deletion).sort(), ["actor", "at", "evaluator", "version"]);
      assert.deepEqual([deletion.version, deletion.actor, deletion.evaluator], [2, "admin", null]);
      assert.ok(deletion.at >= replaced.body.updatedAt);
      const { usedByFlags: _a, ...second } = replaced.body;
      const { usedByFlags: _b, ...first } = created.body;
      assert.deepEqual(v2, { version: 2, at: replaced.body.updatedAt, actor: "admin", evaluator: second });
      assert.deepEqual(v1, { version: 1, at: created.body.createdAt, actor: "admin", evaluator: first });
    });

    it("continues a re-created name's history after its earlier life", async () => {
      await api("PUT", "/evaluators/reborn", { body: { expression: IS_BALLMER } });
      await api("DELETE", "/evaluators/reborn");
      const again = await api("PUT", "/evaluators/reborn", { body: { expression: { "==": [1, 1] } } });
      assert.equal(again.status, 201);
      assert.equal(again.body.version, 1);

      const versions = (await history("reborn")).body.versions;

      assert.deepEqual(
        versions.map((v: { version: number; evaluator: unknown }) => [v.version, v.evaluator === null]),
        [
          [1, false],
          [1, true],
          [1, false],
        ],
      );
      assert.deepEqual(versions[0].evaluator.expression, { "==": [1, 1] });
    });

    it("pages with limit and cursor, newest first, without gaps or repeats", async () => {
      await api("PUT", "/evaluators/paged", { body: { expression: IS_BALLMER } });
      for (let i = 0; i < 4; i++) await api("PUT", "/evaluators/paged", { body: { expression: { "==": [i, i] } } });

      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await history("paged", `?limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`);
        assert.equal(page.status, 200);
        seen.push(...page.body.versions.map((v: { version: number }) => v.version));
        cursor = page.body.nextCursor;
      } while (cursor !== undefined);

      assert.deepEqual(seen, [5, 4, 3, 2, 1]);
      assert.equal((await history("paged", "?cursor=forged")).status, 400);
      assert.equal((await history("paged", "?limit=0")).status, 400);
    });

    it("answers 404 EVALUATOR_NOT_FOUND for a name that never existed", async () => {
      const response = await history("never-was");
      assert.equal(response.status, 404);
      assert.equal(response.body.error.code, "EVALUATOR_NOT_FOUND");
    });

    it("is readable with a read-only token", async () => {
      await api("PUT", "/evaluators/public-record", { body: { expression: IS_BALLMER } });
      const reader = as(READ_TOKEN);
      assert.equal((await reader("GET", "/evaluators/public-record/history")).status, 200);
      assert.equal(
        (await reader("PUT", "/evaluators/public-record", { body: { expression: IS_BALLMER } })).status,
        403,
      );
    });

    it("keeps an evaluator's history apart from a flag's of the same name", async () => {
      await api("PUT", "/evaluators/twin", { body: { expression: IS_BALLMER } });
      await api("POST", "/flags", { body: { flagName: "twin", value: true } });
      const flagHistory = (await api("GET", "/flags/twin/history")).body.versions;
      const evaluatorHistory = (await history("twin")).body.versions;
      assert.deepEqual(Object.keys(flagHistory[0]).sort(), ["actor", "at", "flag", "version"]);
      assert.equal(flagHistory.length, 1);
      assert.equal(evaluatorHistory.length, 1);
      assert.equal(evaluatorHistory[0].evaluator.name, "twin");
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
        "clientSide",
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
