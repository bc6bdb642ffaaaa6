import { strict as assert } from "node:assert";
import { FlagSet, SnapshotAssembly } from "../src/flagSet";
import { PLAIN_FLAG_VARIANT, toFlagdFlag } from "../src/flagd";
import { parseMessage, type Flag, type SnapshotMessage } from "../src/protocol";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const flag = (flagName: string, fields: Partial<Flag> = {}): Flag => ({ flagName, version: 1, value: true, ...fields });
const rich = (flagName: string, fields: Partial<Flag> = {}): Flag => ({
  flagName,
  version: 1,
  variants: { on: true, off: false },
  defaultVariant: "off",
  ...fields,
});

describe("SnapshotAssembly", () => {
  const part = (p: number, parts: number, flags: Flag[], evaluators?: object): SnapshotMessage => ({
    type: "snapshot",
    part: p,
    parts,
    flags,
    ...(evaluators === undefined ? {} : { evaluators: evaluators as Record<string, unknown> }),
  });

  it("holds a snapshot only once every part has arrived, in order", () => {
    const assembly = new SnapshotAssembly();
    assembly.reset();
    assert.equal(assembly.add(part(1, 3, [flag("a")], { e: 1 })), undefined);
    assert.equal(assembly.add(part(2, 3, [flag("b")])), undefined);
    const complete = assembly.add(part(3, 3, [flag("c")]));
    assert.ok(complete !== undefined && complete !== "out-of-order");
    assert.deepEqual(
      complete.flags.map((f) => f.flagName),
      ["a", "b", "c"],
    );
    assert.deepEqual(complete.evaluators, { e: 1 });
  });

  it("reads a single-frame snapshot of an older server (no part, no parts) as part 1 of 1", () => {
    const assembly = new SnapshotAssembly();
    const complete = assembly.add({ type: "snapshot", flags: [flag("a")] });
    assert.ok(complete !== undefined && complete !== "out-of-order");
    assert.deepEqual(complete.evaluators, {});
  });

  it("reports a gap or a mismatched part count, and drops the parts it held", () => {
    const assembly = new SnapshotAssembly();
    assembly.add(part(1, 3, [flag("a")]));
    assert.equal(assembly.add(part(3, 3, [flag("c")])), "out-of-order");
    assembly.add(part(1, 3, [flag("a")]));
    assert.equal(assembly.add(part(2, 4, [flag("b")])), "out-of-order");
  });

  it("starts over when a new part 1 arrives mid-snapshot", () => {
    const assembly = new SnapshotAssembly();
    assembly.add(part(1, 2, [flag("old")]));
    const complete = assembly.add(part(1, 1, [flag("new")]));
    assert.ok(complete !== undefined && complete !== "out-of-order");
    assert.deepEqual(
      complete.flags.map((f) => f.flagName),
      ["new"],
    );
  });

  it("hands back the changes noted while the snapshot was on its way, and only those", () => {
    const assembly = new SnapshotAssembly();
    assembly.note({ type: "flag.updated", flag: flag("before-asking", { version: 2 }) });
    assembly.reset();
    assembly.note({ type: "flag.updated", flag: flag("a", { version: 2 }) });
    const complete = assembly.add(part(1, 1, [flag("a")]));
    assert.ok(complete !== undefined && complete !== "out-of-order");
    assert.deepEqual(
      complete.since.map((m) => (m.type === "flag.updated" ? m.flag.flagName : m.type)),
      ["a"],
    );
  });
});

describe("parseMessage", () => {
  it("accepts the contract's messages and ignores anything else without throwing", () => {
    assert.equal(parseMessage('{"type":"snapshot","part":1,"parts":2,"flags":[]}')?.type, "snapshot");
    assert.equal(parseMessage('{"type":"flag.deleted","flagName":"x","version":3}')?.type, "flag.deleted");
    for (const junk of [
      "not json",
      "null",
      "[]",
      '{"type":"snapshot","part":3,"parts":2,"flags":[]}',
      '{"type":"snapshot","flags":[{"flagName":1}]}',
      '{"type":"flag.updated","flag":null}',
      '{"type":"something.new"}',
    ]) {
      assert.equal(parseMessage(junk), undefined, junk);
    }
  });
});

describe("toFlagdFlag", () => {
  it("turns a plain flag into one variant that is also the default (evaluates STATIC)", () => {
    assert.deepEqual(toFlagdFlag(flag("p", { value: { a: 1 }, description: "ignored" })), {
      state: "ENABLED",
      variants: { [PLAIN_FLAG_VARIANT]: { a: 1 } },
      defaultVariant: PLAIN_FLAG_VARIANT,
    });
  });

  it("keeps a rich flag's flagd fields as they are and drops the service's bookkeeping", () => {
    const targeting = { if: [{ "==": [{ var: "tier" }, "gold"] }, "on", null] };
    assert.deepEqual(
      toFlagdFlag(
        rich("r", { state: "DISABLED", targeting, metadata: { team: "x" }, updatedBy: "admin", value: false }),
      ),
      {
        state: "DISABLED",
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting,
        metadata: { team: "x" },
      },
    );
  });
});

describe("FlagSet", () => {
  const set = (flags: Flag[], evaluators = {}) => {
    const s = new FlagSet(quiet);
    s.replace(flags, evaluators);
    return s;
  };

  describe("evaluation", () => {
    it("returns the caller's default with PROVIDER_NOT_READY before any snapshot", () => {
      const details = new FlagSet(quiet).resolve("boolean", "x", true, {});
      assert.deepEqual([details.value, details.errorCode], [true, "PROVIDER_NOT_READY"]);
    });

    it("evaluates a plain flag to its value with reason STATIC", () => {
      const details = set([flag("p", { value: "blue" })]).resolve("string", "p", "red", {});
      assert.deepEqual([details.value, details.reason, details.errorCode], ["blue", "STATIC", undefined]);
    });

    it("returns the default with FLAG_NOT_FOUND or TYPE_MISMATCH, never throwing", () => {
      const s = set([flag("p", { value: "blue" })]);
      const missing = s.resolve("string", "nope", "red", {});
      const wrongType = s.resolve("boolean", "p", false, {});
      assert.deepEqual([missing.value, missing.errorCode], ["red", "FLAG_NOT_FOUND"]);
      assert.deepEqual([wrongType.value, wrongType.errorCode], [false, "TYPE_MISMATCH"]);
    });

    it("returns the default with reason DISABLED for a disabled flag", () => {
      const details = set([rich("r", { state: "DISABLED", defaultVariant: "on" })]).resolve("boolean", "r", false, {});
      assert.deepEqual([details.value, details.reason, details.errorCode], [false, "DISABLED", undefined]);
    });

    it("applies targeting with a shared evaluator ($ref) as flagd does", () => {
      const s = set([rich("r", { targeting: { if: [{ $ref: "gold" }, "on", "off"] } })], {
        gold: { "==": [{ var: "tier" }, "gold"] },
      });
      assert.equal(s.resolve("boolean", "r", false, { tier: "gold" }).value, true);
      assert.equal(s.resolve("boolean", "r", true, { tier: "tin" }).value, false);
      assert.equal(s.resolve("boolean", "r", false, { tier: "gold" }).reason, "TARGETING_MATCH");
    });

    it("keeps serving the other flags when one is not a valid flagd flag, which fails with PARSE_ERROR", () => {
      const s = set([rich("broken", { defaultVariant: "missing" }), flag("fine", { value: 7 })]);
      assert.equal(s.resolve("number", "fine", 0, {}).value, 7);
      const broken = s.resolve("boolean", "broken", true, {});
      assert.equal(broken.errorCode, "PARSE_ERROR");
      assert.equal(broken.value, true);
    });
  });

  describe("definitions from the service are untrusted", () => {
    /** Twelve levels of `all` over 300 literals merged with the element: 300^12 steps if it ran. */
    const bomb = () => {
      let rule: unknown = { var: "targetingKey" };
      for (let i = 0; i < 12; i++)
        rule = { all: [{ merge: [Array.from({ length: 300 }, (_, k) => k), { var: "" }] }, rule] };
      return { if: [{ var: "targetingKey" }, rule, false] };
    };

    it("fails a flag over the evaluation bounds with PARSE_ERROR at once, and serves the others", () => {
      const started = Date.now();
      const s = set([rich("bomb", { targeting: bomb() }), flag("fine", { value: 7 })]);
      const result = s.resolve("boolean", "bomb", true, { targetingKey: "user-1" });
      assert.ok(Date.now() - started < 2_000, "building and resolving must not run the rule");
      assert.equal(result.errorCode, "PARSE_ERROR");
      assert.match(result.errorMessage ?? "", /iterationNesting/);
      assert.equal(s.resolve("number", "fine", 0, {}).value, 7);
    });

    it("refuses prototype names as operators and keeps $ref strings literal", () => {
      const s = set(
        [
          rich("proto", { targeting: JSON.parse('{"__defineGetter__": [1]}') }),
          rich("paid", { targeting: { if: [{ $ref: "plans" }, "on", "off"] } }),
        ],
        { plans: { in: [{ var: "plan" }, ["$$pro", "$'x"]] } },
      );
      assert.equal(s.resolve("boolean", "proto", false, {}).errorCode, "PARSE_ERROR");
      assert.equal(s.resolve("boolean", "paid", false, { plan: "$$pro" }).value, true);
      assert.equal(s.resolve("boolean", "paid", false, { plan: "$pro" }).value, false);
      assert.equal(s.resolve("boolean", "paid", false, { plan: "$'x" }).value, true);
    });

    it("fails the flags of an evaluator over its bounds, not the whole set", () => {
      let deep: unknown = { var: "x" };
      for (let i = 0; i < 40; i++) deep = { "!": [deep] };
      const s = set(
        [rich("uses", { targeting: { if: [{ $ref: "deep" }, "on", "off"] } }), flag("fine", { value: 1 })],
        {
          deep,
        },
      );
      assert.equal(s.resolve("boolean", "uses", false, {}).errorCode, "PARSE_ERROR");
      assert.equal(s.resolve("number", "fine", 0, {}).value, 1);
    });
  });

  describe("what changed (flagsChanged)", () => {
    it("names added, changed and removed flags between two snapshots, and nothing else", () => {
      const s = set([flag("same"), flag("changed"), flag("removed")]);
      const changed = s.replace([flag("same"), flag("changed", { value: false, version: 2 }), flag("added")], {});
      assert.deepEqual(changed.sort(), ["added", "changed", "removed"]);
    });

    it("does not count a change that does not affect evaluation (description, timestamps)", () => {
      const s = set([flag("a", { description: "x" })]);
      assert.deepEqual(s.apply({ type: "flag.updated", flag: flag("a", { version: 2, description: "y" }) }), []);
    });

    it("names every flag that uses an evaluator when the evaluator changes, and only those", () => {
      const uses = { if: [{ $ref: "gold" }, "on", "off"] };
      const s = set([rich("user-1", { targeting: uses }), rich("user-2", { targeting: uses }), rich("other")], {
        gold: { "==": [{ var: "tier" }, "gold"] },
      });
      const changed = s.apply({
        type: "evaluators.updated",
        evaluators: { gold: { "==": [{ var: "tier" }, "platinum"] } },
      });
      assert.deepEqual(changed.sort(), ["user-1", "user-2"]);
    });

    it("keeps the newest version: an older or repeated message changes nothing", () => {
      const s = set([flag("a", { version: 3, value: "v3" })]);
      assert.deepEqual(s.apply({ type: "flag.updated", flag: flag("a", { version: 2, value: "v2" }) }), []);
      assert.deepEqual(s.apply({ type: "flag.updated", flag: flag("a", { version: 3, value: "v3" }) }), []);
      assert.deepEqual(s.apply({ type: "flag.deleted", flagName: "a", version: 2 }), []);
      assert.equal(s.resolve("string", "a", "", {}).value, "v3");
      assert.deepEqual(s.apply({ type: "flag.deleted", flagName: "a", version: 3 }), ["a"]);
      assert.deepEqual(s.apply({ type: "flag.created", flag: flag("a", { version: 1, value: "again" }) }), ["a"]);
    });

    it("re-applies changes that raced a snapshot the snapshot predates", () => {
      const s = set([flag("a", { version: 1, value: "old" })]);
      const changed = s.replace([flag("a", { version: 1, value: "old" })], {}, [
        { type: "flag.updated", flag: flag("a", { version: 2, value: "new" }) },
      ]);
      assert.deepEqual(changed, ["a"]);
      assert.equal(s.resolve("string", "a", "", {}).value, "new");
    });
  });
});
