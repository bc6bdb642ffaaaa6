import { strict as assert } from "node:assert";
import { itemToEntry } from "../../handlers/flags/history";
import { type FlagItem, itemToFlag } from "../../handlers/flags/model";

const item = (fields: Partial<FlagItem> = {}): FlagItem => ({
  flagName: "f",
  valueJson: "true",
  version: 1,
  createdAt: "2026-11-21T10:00:00.000Z",
  updatedAt: "2026-11-21T10:00:00.000Z",
  createdBy: "admin",
  updatedBy: "admin",
  ...fields,
});

describe("clientSide in stored flags", () => {
  it("is a top-level item attribute, false when absent (items written before it existed)", () => {
    assert.equal(itemToFlag(item()).clientSide, false);
    assert.equal(itemToFlag(item({ clientSide: false })).clientSide, false);
    assert.equal(itemToFlag(item({ clientSide: true })).clientSide, true);
    // Not part of the evaluation definition: a definition mentioning it does not make it so.
    const definitionJson = JSON.stringify({ variants: { on: true }, defaultVariant: "on", clientSide: true });
    assert.equal(itemToFlag(item({ definitionJson })).clientSide, false);
  });

  it("history entries written before it existed read as not client-side", () => {
    const { clientSide: _, ...legacy } = itemToFlag(item());
    const entry = itemToEntry({
      flagName: "f",
      seq: 1,
      version: 1,
      at: "x",
      actor: "admin",
      flagJson: JSON.stringify(legacy),
    });
    assert.equal(entry.flag?.clientSide, false);
    const current = itemToEntry({
      flagName: "f",
      seq: 2,
      version: 2,
      at: "x",
      actor: "admin",
      flagJson: JSON.stringify(itemToFlag(item({ version: 2, clientSide: true }))),
    });
    assert.equal(current.flag?.clientSide, true);
  });
});
