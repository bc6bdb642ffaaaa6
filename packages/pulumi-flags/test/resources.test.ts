import * as assert from "node:assert/strict";
import Module from "node:module";
import * as path from "node:path";
// eslint-disable-next-line no-restricted-imports -- tests of a Pulumi package
import * as pulumi from "@pulumi/pulumi";
import { evaluatorProvider } from "../src/evaluatorProvider";
import { flagProvider } from "../src/flagProvider";
import { Evaluator, Flag } from "../src/resources";
import type { ServiceRef } from "../src/service";
import { failure, PROVIDER, startFlagService } from "./support";

const TOKEN = "stack-secret-token-0123456789abcdef";
/** Pulumi's marker for a secret in a serialized property (`sdk/nodejs/runtime/rpc.ts`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const resolved = <T>(output: pulumi.Output<T>): Promise<T> => new Promise((resolve) => output.apply(resolve));

/**
 * Loads a serialized provider as the dynamic-provider host does (`require-from-string` of the
 * text, then `handler()`): the code `pulumi up` would run, with nothing of this process.
 */
function loadSerialized(text: string): pulumi.dynamic.ResourceProvider {
  const filename = path.join(process.cwd(), "__serialized_provider.js");
  const loaded = new Module(filename) as any;
  loaded.filename = filename;
  loaded.paths = (Module as any)._nodeModulePaths(process.cwd());
  loaded._compile(text, filename);
  return loaded.exports.handler();
}

describe("Flag and Evaluator resources under Pulumi mocks", function () {
  /** What the engine would receive for each registration, as it receives it (serialized). */
  const requests: Array<{ type: string; name: string; object: Record<string, any>; secretOutputs: string[] }> = [];

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
        call: (args) => args.inputs,
      },
      "pulumi-flags-test",
      "dev",
      false,
    );
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request: any, callback: unknown) => {
      requests.push({
        type: request.getType(),
        name: request.getName(),
        object: request.getObject().toJavaScript(),
        secretOutputs: request.getAdditionalsecretoutputsList(),
      });
      return register(request, callback);
    };
  });

  const requestOf = (name: string) => {
    const found = requests.find((request) => request.name === name);
    assert.ok(found, `${name} was registered`);
    return found;
  };

  it("a Flag's token goes to the engine as a secret, its service output is secret, and the rest is plain", async () => {
    const flag = new Flag("checkout", {
      service: { url: "https://flags.example.com/prod", token: TOKEN },
      variants: { on: true, off: false },
      defaultVariant: "off",
      description: "Checkout v2",
    });
    assert.equal(await resolved(flag.flagName), "checkout", "flagName defaults to the resource's name");
    assert.equal(await pulumi.isSecret(flag.service), true);
    assert.equal(await pulumi.isSecret(flag.flagName), false);
    assert.equal(await pulumi.isSecret(flag.variants), false);
    assert.equal((await resolved(flag.service)).token, TOKEN);

    const request = requestOf("checkout");
    assert.equal(request.type, "pulumi-nodejs:dynamic/feature-flags:Flag");
    assert.deepEqual(request.secretOutputs, ["service"], "the engine encrypts the service output in the state");
    assert.deepEqual(request.object.service.token, { [SIG_KEY]: SECRET_SIG, value: TOKEN });
    assert.equal(request.object.service.url, "https://flags.example.com/prod");
    assert.equal(request.object.description, "Checkout v2");
    const everythingElse = JSON.stringify({ ...request.object, service: undefined });
    assert.ok(!everythingElse.includes(TOKEN), "the token is nowhere else in the inputs (the provider text included)");
  });

  it("an Evaluator's token is a secret the same way", async () => {
    const evaluator = new Evaluator("internal-users", {
      service: { url: pulumi.output("https://flags.example.com/prod"), token: pulumi.secret(TOKEN) },
      expression: { ends_with: [{ var: "email" }, "@example.com"] },
    });
    assert.equal(await resolved(evaluator.name), "internal-users");
    assert.equal(await pulumi.isSecret(evaluator.service), true);
    const request = requestOf("internal-users");
    assert.equal(request.type, "pulumi-nodejs:dynamic/feature-flags:Evaluator");
    assert.deepEqual(request.secretOutputs, ["service"]);
    assert.deepEqual(request.object.service.token, { [SIG_KEY]: SECRET_SIG, value: TOKEN });
  });

  it("the serialized provider a Flag stores (__provider) runs on its own against a service", async () => {
    const { service, alice, stop } = await startFlagService();
    try {
      new Flag("serialized", { service, value: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const serialized = requestOf("serialized").object.__provider;
      const text = typeof serialized === "string" ? serialized : serialized.value;
      assert.equal(typeof text, "string");
      const provider = loadSerialized(text);

      const inputs = { ...PROVIDER, service, flagName: "pf-serialized", value: 1 };
      const created = await provider.create(inputs);
      assert.equal((await alice("GET", "/flags/pf-serialized")).body.value, 1);
      const state = { ...PROVIDER, ...created.outs };
      assert.equal((await provider.diff!("pf-serialized", state, inputs)).changes, false);
      const updated = await provider.update!("pf-serialized", state, { ...inputs, value: 2 });
      assert.equal(updated.outs.version, 2);
      await provider.delete!("pf-serialized", { ...PROVIDER, ...updated.outs });
      assert.equal((await alice("GET", "/flags/pf-serialized")).status, 404);
    } finally {
      await stop();
    }
  });
});

describe("the providers serialize as Pulumi's closure serializer does for `pulumi up`", function () {
  let service: ServiceRef;
  let stop: () => Promise<void>;
  before(async () => {
    ({ service, stop } = await startFlagService());
  });
  after(async () => stop());

  for (const [label, provider] of [
    ["flagProvider", flagProvider],
    ["evaluatorProvider", evaluatorProvider],
  ] as const) {
    it(`${label} serializes without secrets and every method survives it`, async () => {
      const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
      assert.equal(serialized.containsSecrets, false);
      // Self-contained: the provider process needs no module (and loads no deprecated alias).
      assert.doesNotMatch(serialized.text, /require\(|global\.sys/);
      const loaded = loadSerialized(serialized.text);
      for (const method of ["check", "create", "read", "diff", "update", "delete"] as const) {
        assert.equal(typeof loaded[method], "function", `${label}.${method}`);
      }
    });
  }

  it("the serialized evaluatorProvider creates, reads and deletes", async () => {
    const provider = loadSerialized(
      (await pulumi.runtime.serializeFunction(() => evaluatorProvider, { allowSecrets: false })).text,
    );
    const inputs = { ...PROVIDER, service, name: "pf-serialized-eval", expression: { "==": [1, 1] } };
    const created = await provider.create(inputs);
    const read = await provider.read!("pf-serialized-eval", { ...PROVIDER, ...created.outs });
    assert.deepEqual(read.props.expression, { "==": [1, 1] });
    await provider.delete!("pf-serialized-eval", { ...PROVIDER, ...read.props });
    const stale = { ...PROVIDER, ...read.props };
    const error = await failure(() =>
      provider.update!("pf-serialized-eval", stale, { ...inputs, expression: { "==": [2, 2] } }),
    );
    assert.match(error.message, /VERSION_CONFLICT/);
    assert.match(error.message, /has since been deleted/);
    const tokenOnly = await failure(() => provider.update!("pf-serialized-eval", stale, inputs));
    assert.match(tokenOnly.message, /deleted outside this stack/);
  });
});
