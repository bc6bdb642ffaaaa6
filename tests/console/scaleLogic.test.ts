/** The list's logic at scale (no browser): sorting from the last order, and where names may wrap. */
import * as assert from "node:assert/strict";
import type { Flag } from "../../handlers/flags/model";
import { nameParts, sortFlags } from "../../console/src/logic/flags";

const flag = (flagName: string, fields: Partial<Flag> = {}): Flag => ({
  flagName,
  value: true,
  version: 1,
  createdAt: "2026-11-30T00:00:00.000Z",
  updatedAt: "2026-11-30T00:00:00.000Z",
  createdBy: "admin",
  updatedBy: "admin",
  clientSide: false,
  ...fields,
});
const names = (flags: Flag[]) => flags.map((f) => f.flagName);
const record = (flags: Flag[]) => Object.fromEntries(flags.map((f) => [f.flagName, f]));

describe("console list logic at scale", () => {
  it("sorts from the last order: changed flags are the current objects, deleted ones gone, new ones placed", () => {
    const before = sortFlags(record([flag("delta"), flag("alpha"), flag("charlie")]), "name");
    assert.deepEqual(names(before), ["alpha", "charlie", "delta"]);
    const changed = flag("charlie", { version: 2, updatedAt: "2026-12-01T00:00:00.000Z" });
    const after = sortFlags(record([flag("delta"), changed, flag("bravo"), flag("Echo")]), "name", before);
    assert.deepEqual(names(after), ["bravo", "charlie", "delta", "Echo"]);
    assert.equal(after[1], changed, "the row gets the changed flag, not the old one");
    // A change that moves a flag in the order (newest first) moves it.
    assert.deepEqual(names(sortFlags(record(after), "updated", after)), ["charlie", "bravo", "delta", "Echo"]);
  });

  it("gives the same order from any previous order as from none, at 10,000 flags", () => {
    const flags = Array.from({ length: 10_000 }, (_, i) =>
      flag(`f-${(i * 7919) % 10_000}`, {
        updatedAt: new Date(Date.UTC(2026, 0, 1) + ((i * 31) % 997) * 1000).toISOString(),
      }),
    );
    const fresh = sortFlags(record(flags), "updated");
    const fromPrevious = sortFlags(record(flags), "updated", sortFlags(record(flags), "name"));
    assert.deepEqual(names(fromPrevious), names(fresh));
  });

  it("lets a name wrap only after -, _ and .", () => {
    assert.deepEqual(nameParts("new-checkout_v2.beta"), ["new-", "checkout_", "v2.", "beta"]);
    assert.deepEqual(nameParts("greeting"), ["greeting"]);
    assert.equal(nameParts("a-rather-long-flag-name").join(""), "a-rather-long-flag-name");
  });
});
