import { strict as assert } from "node:assert";
import { checkDefinition, referencedEvaluators, toFlagdFlag } from "../../handlers/flags/definition";
import { type FlagItem, itemToFlag } from "../../handlers/flags/model";
import { recordToMessage } from "../../handlers/realtime/messages";
import { recordToAuditLine } from "../../handlers/audit/records";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return "";
};

describe("flag definitions (shared validation)", () => {
  it("keeps a plain value flag plain", () => {
    assert.deepEqual(checkDefinition("f", { value: [1, 2] }), { value: [1, 2], refs: [] });
  });

  it("derives value from the default variant and lists $refs once, sorted", () => {
    const checked = checkDefinition("f", {
      variants: { a: "x", b: "y" },
      defaultVariant: "b",
      targeting: { if: [{ or: [{ $ref: "z" }, { $ref: "a" }, { $ref: "z" }] }, "a", "b"] },
    });
    assert.equal(checked.value, "y");
    assert.deepEqual(checked.refs, ["a", "z"]);
  });

  it("has no value without a default variant, and refuses one given", () => {
    assert.equal(checkDefinition("f", { variants: { a: 1 } }).value, undefined);
    assert.match(
      messageOf(() => checkDefinition("f", { variants: { a: 1 }, defaultVariant: null, value: 1 })),
      /value: a flag without a defaultVariant has no value/,
    );
  });

  it("turns a plain value into a one-variant flagd flag served STATIC", () => {
    assert.deepEqual(toFlagdFlag(true, {}), {
      state: "ENABLED",
      variants: { default: true },
      defaultVariant: "default",
    });
  });

  it("finds $refs in deep targeting without recursion", () => {
    let deep: unknown = { $ref: "bottom" };
    for (let i = 0; i < 10_000; i++) deep = { and: [deep] };
    assert.deepEqual(referencedEvaluators(deep), ["bottom"]);
  });
});

describe("rich fields reach WebSocket messages and audit lines", () => {
  const item: FlagItem = {
    flagName: "rich",
    valueJson: "true",
    definitionJson: JSON.stringify({
      state: "ENABLED",
      variants: { on: true, off: false },
      defaultVariant: "on",
      targeting: { if: [{ var: "beta" }, "on", "off"] },
      metadata: { team: "web" },
    }),
    refs: [],
    version: 2,
    createdAt: "2026-11-21T10:00:00.000Z",
    updatedAt: "2026-11-21T10:00:00.000Z",
    createdBy: "admin",
    updatedBy: "admin",
    lastEvaluated: "2026-11-21T10:01:00.000Z",
  };
  const record = (eventName: "INSERT" | "MODIFY", before?: FlagItem, after?: FlagItem): DynamoDBRecord => ({
    eventID: "1",
    eventName,
    dynamodb: {
      ...(before === undefined ? {} : { OldImage: marshall(before, { removeUndefinedValues: true }) as never }),
      ...(after === undefined ? {} : { NewImage: marshall(after, { removeUndefinedValues: true }) as never }),
    },
  });

  it("a flag carries state, variants, defaultVariant, targeting, metadata and lastEvaluated", () => {
    const flag = itemToFlag(item);
    assert.equal(flag.state, "ENABLED");
    assert.deepEqual(flag.variants, { on: true, off: false });
    assert.equal(flag.defaultVariant, "on");
    assert.deepEqual(flag.metadata, { team: "web" });
    assert.equal(flag.lastEvaluated, item.lastEvaluated);
    assert.equal(Object.hasOwn(flag, "refs"), false, "internal fields stay internal");
  });

  it("flag.created carries the rich fields", () => {
    const message = recordToMessage(record("INSERT", undefined, item));
    assert.equal(message?.type, "flag.created");
    assert.deepEqual((message as { flag: { targeting: unknown } }).flag.targeting, {
      if: [{ var: "beta" }, "on", "off"],
    });
  });

  it("a lastEvaluated stamp is no message and no audit line", () => {
    const stamped = { ...item, lastEvaluated: "2026-11-21T10:02:00.000Z" };
    assert.equal(recordToMessage(record("MODIFY", item, stamped)), undefined);
    assert.equal(recordToAuditLine(record("MODIFY", item, stamped)), undefined);
  });

  it("an update's audit line has the rich fields before and after", () => {
    const after = { ...item, version: 3, definitionJson: item.definitionJson?.replace('"ENABLED"', '"DISABLED"') };
    const line = recordToAuditLine(record("MODIFY", item, after));
    assert.equal(line?.before?.state, "ENABLED");
    assert.equal(line?.after?.state, "DISABLED");
  });
});
