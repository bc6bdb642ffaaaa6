import * as assert from "node:assert/strict";
import type { Flag } from "../../handlers/flags/model";
import { definitionBody, diffFlags } from "../../console/src/logic/diff";
import { checkCreate, checkForm, formFromFlag } from "../../console/src/logic/editor";
import { isStale, selectFlags, type ListQuery } from "../../console/src/logic/flags";
import { emptyLive, reduceLive, withFlags } from "../../console/src/logic/live";

const NOW = Date.parse("2026-11-30T12:00:00.000Z");
const daysAgo = (days: number) => new Date(NOW - days * 86_400_000).toISOString();

const flag = (flagName: string, fields: Partial<Flag> = {}): Flag => ({
  flagName,
  value: true,
  version: 1,
  createdAt: daysAgo(100),
  updatedAt: daysAgo(100),
  createdBy: "admin",
  updatedBy: "admin",
  clientSide: false,
  ...fields,
});

const query = (fields: Partial<ListQuery> = {}): ListQuery => ({
  search: "",
  filter: "all",
  sort: "name",
  staleDays: 30,
  now: NOW,
  ...fields,
});

const names = (flags: Flag[]) => flags.map((f) => f.flagName);

describe("console: flag list", () => {
  const rich = flag("checkout-v2", {
    value: undefined,
    variants: { on: true, off: false },
    defaultVariant: "off",
    description: "EU rollout",
    lastEvaluated: daysAgo(1),
  });
  const disabled = flag("banner", { value: "hello", state: "DISABLED", lastAccessed: daysAgo(2) });
  const unused = flag("old-toggle", { value: false });
  const fresh = flag("dark-mode", { lastAccessed: daysAgo(40), lastEvaluated: daysAgo(3), updatedAt: daysAgo(0) });
  const all = [rich, disabled, unused, fresh];

  it("searches names and descriptions, ignoring case", () => {
    assert.deepEqual(names(selectFlags(all, query({ search: "DARK" }))), ["dark-mode"]);
    assert.deepEqual(names(selectFlags(all, query({ search: "eu roll" }))), ["checkout-v2"]);
  });

  it("filters boolean, rich, disabled and stale flags", () => {
    assert.deepEqual(names(selectFlags(all, query({ filter: "boolean" }))), ["dark-mode", "old-toggle"]);
    assert.deepEqual(names(selectFlags(all, query({ filter: "rich" }))), ["checkout-v2"]);
    assert.deepEqual(names(selectFlags(all, query({ filter: "disabled" }))), ["banner"]);
    assert.deepEqual(names(selectFlags(all, query({ filter: "stale" }))), ["old-toggle"]);
  });

  it("shows only client-side flags when asked, combined with the other filters", () => {
    const clientSide = [
      flag("page-banner", { clientSide: true }),
      flag("page-theme", { value: "x", clientSide: true }),
    ];
    const mixed = [...all, ...clientSide];
    assert.deepEqual(names(selectFlags(mixed, query({ clientSideOnly: true }))), ["page-banner", "page-theme"]);
    assert.deepEqual(names(selectFlags(mixed, query({ clientSideOnly: true, filter: "boolean" }))), ["page-banner"]);
    assert.equal(selectFlags(mixed, query({ clientSideOnly: false })).length, 6);
  });

  it("sorts by name, by last change and by longest unused", () => {
    assert.deepEqual(names(selectFlags(all, query())), ["banner", "checkout-v2", "dark-mode", "old-toggle"]);
    assert.equal(names(selectFlags(all, query({ sort: "updated" })))[0], "dark-mode");
    assert.deepEqual(names(selectFlags(all, query({ sort: "unused" }))), [
      "old-toggle",
      "dark-mode",
      "banner",
      "checkout-v2",
    ]);
  });

  it("calls a flag stale by its latest read or evaluation, and a never-used one by its age", () => {
    assert.equal(isStale(fresh, NOW, 30), false, "evaluated 3 days ago, though read 40 days ago");
    assert.equal(isStale(fresh, NOW, 2), true);
    assert.equal(isStale(flag("new", { createdAt: daysAgo(1) }), NOW, 30), false);
    assert.equal(isStale(unused, NOW, 30), true);
  });
});

describe("console: live state", () => {
  it("applies a snapshot in parts only once every part is held, replacing the set", () => {
    let state = withFlags(emptyLive(), [flag("gone")]);
    state = reduceLive(state, { type: "snapshot", part: 1, parts: 2, flags: [flag("a")] });
    assert.deepEqual(Object.keys(state.flags), ["gone"], "half a snapshot changes nothing");
    state = reduceLive(state, { type: "snapshot", part: 2, parts: 2, flags: [flag("b")] });
    assert.deepEqual(Object.keys(state.flags).sort(), ["a", "b"]);
  });

  it("keeps the highest version whatever order updates arrive in, and names the change", () => {
    let state = reduceLive(emptyLive(), { type: "flag.updated", flag: flag("a", { version: 3, updatedBy: "ci" }) });
    state = reduceLive(state, { type: "flag.updated", flag: flag("a", { version: 2, value: false }) });
    assert.equal(state.flags.a.version, 3);
    assert.deepEqual(state.lastChange, { flagName: "a", kind: "updated", version: 3, actor: "ci" });
    state = withFlags(state, [flag("a", { version: 1 })]);
    assert.equal(state.flags.a.version, 3, "an older REST read does not win");
  });

  it("gives the cue to a known flag that a snapshot brings at a higher version, and only to it", () => {
    let state = withFlags(emptyLive(), [flag("a"), flag("b")]);
    state = reduceLive(state, {
      type: "snapshot",
      part: 1,
      parts: 1,
      flags: [flag("a", { version: 2, updatedBy: "colleague" }), flag("b"), flag("new")],
    });
    assert.deepEqual(state.lastChange, { flagName: "a", kind: "updated", version: 2, actor: "colleague" });
    state = reduceLive(state, { type: "flag.updated", flag: flag("a", { version: 2, updatedBy: "colleague" }) });
    assert.equal(state.lastChange?.version, 2, "the same version arriving again changes nothing");
  });

  it("follows the shared evaluators: a snapshot's first part, then each evaluators.updated", () => {
    let state = reduceLive(emptyLive(), {
      type: "snapshot",
      part: 1,
      parts: 2,
      evaluators: { beta: { var: "beta" } },
      flags: [flag("a")],
    });
    assert.deepEqual(state.evaluators, { beta: { var: "beta" } }, "known before the other parts");
    state = reduceLive(state, { type: "snapshot", part: 2, parts: 2, flags: [flag("b")] });
    assert.deepEqual(state.evaluators, { beta: { var: "beta" } });
    const before = state.evaluators;
    state = reduceLive(state, { type: "evaluators.updated", evaluators: {} });
    assert.deepEqual(state.evaluators, {});
    assert.notEqual(state.evaluators, before, "a new object, so views that follow it reload");
    assert.equal(reduceLive(state, { type: "evaluators.updated", evaluators: [1] }), state);
  });

  it("removes a deleted flag and ignores messages it does not know", () => {
    let state = withFlags(emptyLive(), [flag("a")]);
    state = reduceLive(state, { type: "surprise" });
    state = reduceLive(state, "not an object");
    assert.deepEqual(Object.keys(state.flags), ["a"]);
    state = reduceLive(state, { type: "flag.deleted", flagName: "a", version: 2 });
    assert.deepEqual(state.flags, {});
    assert.equal(state.lastChange?.kind, "deleted");
  });
});

describe("console: diff between versions", () => {
  it("lists changed, added and removed fields by path, without bookkeeping fields", () => {
    const before = flag("a", { variants: { on: true, off: false }, defaultVariant: "off", description: "x" });
    const after = flag("a", {
      version: 2,
      updatedBy: "ci",
      variants: { on: true, off: false },
      defaultVariant: "on",
      targeting: {
        fractional: [
          ["on", 10],
          ["off", 90],
        ],
      },
    });
    assert.deepEqual(diffFlags(before, after), [
      { path: "defaultVariant", kind: "changed", before: '"off"', after: '"on"' },
      { path: "description", kind: "removed", before: '"x"' },
      { path: "targeting", kind: "added", after: '{"fractional":[["on",10],["off",90]]}' },
    ]);
  });

  it("finds no difference between a version and itself", () => {
    assert.deepEqual(diffFlags(flag("a"), flag("a", { version: 9, updatedAt: daysAgo(0) })), []);
  });

  it("reverts a rich flag by its definition, leaving value and bookkeeping to the service", () => {
    const body = definitionBody(flag("a", { value: true, variants: { on: true }, defaultVariant: "on", version: 4 }));
    assert.deepEqual(body, { variants: { on: true }, defaultVariant: "on", clientSide: false });
  });

  it("a revert restores who may evaluate the flag, and a diff shows a clientSide change", () => {
    assert.equal(definitionBody(flag("a", { clientSide: true })).clientSide, true);
    assert.deepEqual(diffFlags(flag("a"), flag("a", { clientSide: true, version: 2 })), [
      { path: "clientSide", kind: "changed", before: "false", after: "true" },
    ]);
  });
});

describe("console: edit form validation (the service's own checks)", () => {
  it("round-trips a flag through the form into a valid PUT body", () => {
    const rich = flag("a", { value: undefined, variants: { on: true, off: false }, defaultVariant: "off" });
    const checked = checkForm("a", formFromFlag(rich));
    assert.deepEqual(checked, {
      ok: true,
      body: { variants: { on: true, off: false }, defaultVariant: "off", clientSide: false },
    });
  });

  it("always sends clientSide, so unticking the checkbox withdraws the flag from client keys", () => {
    const form = formFromFlag(flag("a", { clientSide: true }));
    assert.equal(form.clientSide, true);
    const unticked = checkForm("a", { ...form, clientSide: false });
    assert.deepEqual(unticked.ok ? unticked.body.clientSide : "refused", false);
    const ticked = checkForm("a", { ...formFromFlag(flag("a")), clientSide: true });
    assert.deepEqual(ticked.ok ? ticked.body.clientSide : "refused", true);
  });

  it("names the field of JSON that does not parse", () => {
    const form = { ...formFromFlag(flag("a")), targeting: "{oops" };
    const checked = checkForm("a", form);
    assert.equal(checked.ok, false);
    assert.match(checked.ok ? "" : checked.errors.join(), /^targeting: not valid JSON/);
  });

  it("refuses what the service would refuse: an unknown default variant, an unknown operator", () => {
    const base = formFromFlag(
      flag("a", { value: undefined, variants: { on: true, off: false }, defaultVariant: "on" }),
    );
    const unknownDefault = checkForm("a", { ...base, defaultVariant: "maybe" });
    assert.match(
      unknownDefault.ok ? "" : unknownDefault.errors.join(),
      /defaultVariant: 'maybe' is not one of the variants/,
    );
    const badRule = checkForm("a", { ...base, targeting: '{"no_such_op": [1]}' });
    assert.equal(badRule.ok, false);
  });

  it("refuses a rule over the evaluation bounds before Save, naming the path and the bound", () => {
    const base = formFromFlag(
      flag("a", { value: undefined, variants: { on: true, off: false }, defaultVariant: "on" }),
    );
    let rule: unknown = { var: "targetingKey" };
    for (let i = 0; i < 4; i++)
      rule = { all: [{ merge: [Array.from({ length: 100 }, (_, k) => k), { var: "" }] }, rule] };
    const checked = checkForm("a", { ...base, targeting: JSON.stringify(rule) });
    assert.equal(checked.ok, false);
    assert.match(
      checked.ok ? "" : checked.errors.join(),
      /targeting\.all\[1\]\.all\[1\]\.all.*bound: iterationNesting 2/,
    );
  });

  it("checks a new flag's name and value before it is sent", () => {
    assert.equal(checkCreate("ok-name", "true", "").ok, true);
    assert.match((checkCreate("bad name!", "true", "") as { errors: string[] }).errors.join(), /flagName must match/);
    assert.match((checkCreate("x", "null", "") as { errors: string[] }).errors.join(), /value: is required/);
  });
});
