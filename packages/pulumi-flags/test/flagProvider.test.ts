import * as assert from "node:assert/strict";
import { flagProvider, type FlagInputs, type FlagOutputs } from "../src/flagProvider";
import type { ServiceRef } from "../src/service";
import { failure, PROVIDER, startFlagService } from "./support";

/**
 * The provider driven as the engine drives it: `create(inputs)`, then `diff`/`update` with the
 * state's outputs as `olds` and the program's inputs as `news`, `read` and `delete` with the
 * state's outputs. Each carries the serialized provider (`__provider`) as the engine's do.
 */
describe("flagProvider against the local runtime", function () {
  let service: ServiceRef;
  let alice: Awaited<ReturnType<typeof startFlagService>>["alice"];
  let stop: () => Promise<void>;

  before(async () => {
    ({ service, alice, stop } = await startFlagService());
  });
  after(async () => stop());

  const inputs = (fields: Omit<FlagInputs, "service">, ref: ServiceRef = service): FlagInputs =>
    ({ ...PROVIDER, service: ref, ...fields }) as FlagInputs;
  const state = (outs: unknown): FlagOutputs => ({ ...PROVIDER, ...(outs as FlagOutputs) });

  async function created(fields: Omit<FlagInputs, "service">): Promise<FlagOutputs> {
    const result = await flagProvider.create(inputs(fields));
    assert.equal(result.id, fields.flagName);
    return state(result.outs);
  }

  const rich = (flagName: string) => ({
    flagName,
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: { if: [{ ends_with: [{ var: "email" }, "@example.com"] }, "on", "off"] },
    metadata: { team: "checkout" },
    description: "Checkout v2",
  });

  it("create makes the flag (its id is its name) as the stack's token, and the state holds what the service holds", async () => {
    const outs = await created(rich("pf-create"));
    const held = await alice("GET", "/flags/pf-create");
    assert.equal(held.status, 200);
    assert.deepEqual(held.body.variants, { on: true, off: false });
    assert.equal(held.body.createdBy, "pulumi-stack");
    assert.equal(held.body.description, "Checkout v2");
    assert.equal(outs.version, 1);
    assert.equal(outs.value, false, "a rich flag's value is its default variant's");
    assert.deepEqual(outs.targeting, held.body.targeting);
    assert.deepEqual(outs.service, service, "delete needs the service from the state");

    const plain = await created({ flagName: "pf-plain", value: { limit: 3 }, clientSide: true });
    assert.deepEqual(plain.value, { limit: 3 });
    assert.equal((await alice("GET", "/flags/pf-plain")).body.clientSide, true);
  });

  it("create refuses a flag that already exists, naming who holds it, and leaves it untouched", async () => {
    assert.equal((await alice("POST", "/flags", { body: { flagName: "pf-taken", value: 1 } })).status, 201);
    const error = await failure(() => flagProvider.create(inputs({ flagName: "pf-taken", value: 2 })));
    assert.match(error.message, /FLAG_EXISTS/);
    assert.match(error.message, /'alice'/);
    assert.equal((await alice("GET", "/flags/pf-taken")).body.value, 1);
  });

  it("read returns what the service holds, so a refresh sees a change made over REST, and a blank id once it is gone", async () => {
    const outs = await created({ flagName: "pf-drift", value: "a" });
    const change = await alice("PUT", "/flags/pf-drift", { body: { value: "b", description: "by hand" } });
    assert.equal(change.status, 200);

    const read = await flagProvider.read!("pf-drift", outs);
    assert.equal(read.id, "pf-drift");
    assert.equal(read.props.value, "b");
    assert.equal(read.props.description, "by hand");
    assert.equal(read.props.version, 2);
    assert.equal(read.props.updatedBy, "alice");
    assert.deepEqual(read.props.service, service);
    // The next `pulumi up` shows the drift against the program.
    const diff = await flagProvider.diff!("pf-drift", state(read.props), inputs({ flagName: "pf-drift", value: "a" }));
    assert.equal(diff.changes, true);

    assert.equal((await alice("DELETE", "/flags/pf-drift")).status, 204);
    const gone = await flagProvider.read!("pf-drift", state(read.props));
    assert.equal(gone.id, undefined, "a blank id: the engine drops the resource from the state");
  });

  it("diff: no change for the program that made it, an update for a changed field, a replacement for a rename", async () => {
    const outs = await created(rich("pf-diff"));
    const same = await flagProvider.diff!("pf-diff", outs, inputs(rich("pf-diff")));
    assert.deepEqual(same, { changes: false, replaces: [] });

    const changedVariant = await flagProvider.diff!(
      "pf-diff",
      outs,
      inputs({ ...rich("pf-diff"), defaultVariant: "on" }),
    );
    assert.deepEqual(changedVariant, { changes: true, replaces: [] });
    const noDescription = { ...rich("pf-diff") } as Omit<FlagInputs, "service">;
    delete noDescription.description;
    assert.deepEqual(await flagProvider.diff!("pf-diff", outs, inputs(noDescription)), { changes: true, replaces: [] });
    const disabled = await flagProvider.diff!("pf-diff", outs, inputs({ ...rich("pf-diff"), state: "DISABLED" }));
    assert.equal(disabled.changes, true);

    const renamed = await flagProvider.diff!("pf-diff", outs, inputs(rich("pf-diff-2")));
    assert.deepEqual(renamed.replaces, ["flagName"]);

    // Defaults the service fills in are no change: state ENABLED, clientSide false.
    const explicit = await flagProvider.diff!(
      "pf-diff",
      outs,
      inputs({ ...rich("pf-diff"), state: "ENABLED", clientSide: false }),
    );
    assert.equal(explicit.changes, false);
    // Object keys in another order are the same definition.
    const reordered = await flagProvider.diff!(
      "pf-diff",
      outs,
      inputs({ ...rich("pf-diff"), variants: { off: false, on: true } }),
    );
    assert.equal(reordered.changes, false);
  });

  it("update writes the program's definition with If-Match of the version the state holds", async () => {
    const outs = await created(rich("pf-update"));
    const news = { flagName: "pf-update", variants: { on: true, off: false }, defaultVariant: "on" };
    const updated = state((await flagProvider.update!("pf-update", outs, inputs(news))).outs);
    assert.equal(updated.version, 2);
    assert.equal(updated.value, true);
    const held = (await alice("GET", "/flags/pf-update")).body;
    assert.equal(held.defaultVariant, "on");
    assert.equal(held.updatedBy, "pulumi-stack");
    assert.equal(held.targeting, undefined, "targeting the program no longer declares is gone");
    assert.equal(held.metadata, undefined);
    // PUT keeps a description it is not sent, so the provider clears it with "" (what the service keeps).
    assert.ok(!held.description, "a description the program no longer declares is gone");
    assert.equal(updated.description, undefined);
    assert.deepEqual(await flagProvider.diff!("pf-update", updated, inputs(news)), { changes: false, replaces: [] });
  });

  it("update refuses to overwrite someone else's change: the error names them and the version, and their change stays", async () => {
    const outs = await created({ flagName: "pf-conflict", value: 1 });
    assert.equal((await alice("PUT", "/flags/pf-conflict", { body: { value: 42 } })).status, 200);

    const error = await failure(() =>
      flagProvider.update!("pf-conflict", outs, inputs({ flagName: "pf-conflict", value: 2 })),
    );
    assert.match(error.message, /VERSION_CONFLICT/);
    assert.match(error.message, /changed by 'alice'/);
    assert.match(error.message, /last saw version 1/);
    assert.match(error.message, /now at version 2/);
    assert.equal((await alice("GET", "/flags/pf-conflict")).body.value, 42, "never silently overwritten");

    // After a refresh (read) the stack knows version 2 and may write over it.
    const refreshed = state((await flagProvider.read!("pf-conflict", outs)).props);
    const updated = await flagProvider.update!("pf-conflict", refreshed, inputs({ flagName: "pf-conflict", value: 2 }));
    assert.equal(updated.outs.version, 3);
    assert.equal((await alice("GET", "/flags/pf-conflict")).body.value, 2);
  });

  it("a new token alone is an update that writes nothing to the flag", async () => {
    const outs = await created({ flagName: "pf-token", value: true });
    const rotated = { ...service, token: "test-admin-token-0123456789abcdef" };
    const news = inputs({ flagName: "pf-token", value: true }, rotated);
    assert.deepEqual(await flagProvider.diff!("pf-token", outs, news), { changes: true, replaces: [] });
    const updated = await flagProvider.update!("pf-token", outs, news);
    assert.equal(updated.outs.version, 1);
    assert.deepEqual(updated.outs.service, rotated);
    assert.equal((await alice("GET", "/flags/pf-token")).body.version, 1);
  });

  it("delete deletes, and a flag already gone is fine", async () => {
    const outs = await created({ flagName: "pf-delete", value: true });
    await flagProvider.delete!("pf-delete", outs);
    assert.equal((await alice("GET", "/flags/pf-delete")).status, 404);
    await flagProvider.delete!("pf-delete", outs);
  });
});

describe("flagProvider.check (at pulumi preview, before anything is written)", function () {
  const service = { url: "https://flags.example.com/prod", token: "a-token" };
  const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
  const check = (news: Record<string, unknown>) => flagProvider.check!({}, { ...PROVIDER, ...news });

  it("passes a valid flag through unchanged, and values a preview does not know yet", async () => {
    const news = { ...PROVIDER, service, flagName: "new-checkout", value: true };
    assert.deepEqual(await check(news), { inputs: news, failures: [] });
    const unknowns = await check({ service: { url: UNKNOWN, token: UNKNOWN }, flagName: UNKNOWN, value: 1 });
    assert.deepEqual(unknowns.failures, []);
  });

  it("refuses what the service would: a bad name, no value or variants, null, a service without a URL", async () => {
    const properties = async (news: Record<string, unknown>) =>
      ((await check(news)).failures ?? []).map((failure) => failure.property);
    assert.deepEqual(await properties({ service, flagName: "has space", value: 1 }), ["flagName"]);
    assert.deepEqual(await properties({ service, flagName: "x" }), ["value"]);
    assert.deepEqual(await properties({ service, flagName: "x", value: null }), ["value"]);
    assert.deepEqual(await properties({ service: { token: "t" }, flagName: "x", value: 1 }), ["service"]);
    assert.match(JSON.stringify((await check({ service, flagName: "x" })).failures), /needs a value, or variants/);
  });
});

describe("flagProvider when the service's flag deletion is off", function () {
  it("delete fails naming DELETION_DISABLED and the flag stays", async () => {
    const { service, alice, stop } = await startFlagService({ allowFlagDeletion: () => false });
    try {
      const outs = (await flagProvider.create({ ...PROVIDER, service, flagName: "pf-kept", value: 1 } as FlagInputs))
        .outs as FlagOutputs;
      const error = await failure(() => flagProvider.delete!("pf-kept", { ...PROVIDER, ...outs }));
      assert.match(error.message, /DELETION_DISABLED/);
      assert.match(error.message, /'pf-kept'/);
      assert.equal((await alice("GET", "/flags/pf-kept")).status, 200);
    } finally {
      await stop();
    }
  });
});
