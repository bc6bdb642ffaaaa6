import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import Ajv from "ajv";
import type { RunningService } from "../../../local/service";
import type { Client } from "../../../tests/support/http";
import { startTestService } from "../../../tests/support/localService";
import { ADMIN_TOKEN, READ_TOKEN } from "../../../tests/support/tokens";

const ROOT = path.resolve(__dirname, "../../..");
/** The bin `npm ci` links, as a user runs it with `npx feature-flags`. */
const BIN = path.join(ROOT, "node_modules/.bin/feature-flags");
const SPECS = path.resolve(ROOT, "../shared/specs/flagd");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with stdin a pipe (not a terminal) that is closed at once, as in CI. */
function cli(args: string[], env: Record<string, string> = { FLAGS_TOKEN: ADMIN_TOKEN }): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("FLAGS_")));
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: { ...inherited, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/**
 * Runs the CLI on a terminal (a pseudo-terminal from util-linux `script`) and types `answer` at its
 * `[y/N]` prompt. The terminal merges stdout and stderr into `stdout`.
 */
function cliOnTerminal(args: string[], answer: string): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("FLAGS_")));
  const command = [BIN, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: { ...inherited, FLAGS_TOKEN: ADMIN_TOKEN },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let answered = false;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (!answered && stdout.includes("[y/N]")) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const rich = (fields: Record<string, unknown> = {}) => ({
  variants: { on: true, off: false },
  defaultVariant: "off",
  ...fields,
});

/** A flagd document (flags.json, with targeting.json for `$ref`) validator. */
function flagdValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SPECS, "targeting.json"), "utf8")));
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(SPECS, "flags.json"), "utf8")));
}

/** An HTTP proxy in front of `target` that runs `beforePut` when a `PUT /flagset` reaches it, then forwards it. */
async function startRacingProxy(target: string, beforePut: () => Promise<void>) {
  const server = http.createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === "PUT" && request.url?.startsWith("/flagset")) await beforePut();
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "content-type", "if-match", "accept"]) {
      const value = request.headers[name];
      if (typeof value === "string") headers[name] = value;
    }
    const upstream = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const passed: Record<string, string> = {};
    for (const name of ["content-type", "etag"]) {
      const value = upstream.headers.get(name);
      if (value !== null) passed[name] = value;
    }
    response.writeHead(upstream.status, passed).end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A port nothing listens on (it was just free). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("feature-flags CLI (export, diff, promote)", function () {
  this.timeout(60_000);
  let staging: { service: RunningService; api: Client };
  let prod: { service: RunningService; api: Client };
  let tmp: string;

  before(() => {
    // The bin runs the compiled package; compile the source under test (npm ci's `prepare` does it on a fresh clone).
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "packages/cli/tsconfig.build.json"], {
      cwd: ROOT,
      stdio: "inherit",
    });
  });

  beforeEach(async () => {
    [staging, prod] = await Promise.all([startTestService(), startTestService()]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ff-cli-"));
  });

  afterEach(async () => {
    await Promise.all([staging?.service.stop(), prod?.service.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const created = async (api: Client, body: Record<string, unknown>) => {
    const result = await api("POST", "/flags", { body });
    assert.equal(result.status, 201, JSON.stringify(result.body));
  };
  const evaluator = async (api: Client, name: string, expression: unknown) => {
    const result = await api("PUT", `/evaluators/${name}`, { body: { expression } });
    assert.ok(result.status === 200 || result.status === 201, JSON.stringify(result.body));
  };
  /** Both environments hold the same checkout flag and beta-users evaluator; each one more of its own. */
  const seedBoth = async () => {
    for (const { api } of [staging, prod]) {
      await evaluator(api, "beta-users", { in: [{ var: "email" }, ["a@example.com"]] });
      await created(api, {
        flagName: "checkout",
        ...rich({ targeting: { if: [{ $ref: "beta-users" }, "on", "off"] } }),
      });
    }
  };

  describe("diff", () => {
    it("exits 0 and says nothing changes when both environments hold the same flags", async () => {
      await seedBoth();

      const run = await cli(["diff", "--from", staging.service.url, "--to", prod.service.url]);

      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Flags: 0 to create, 0 to update, 0 to delete, 1 unchanged\./);
      assert.match(run.stdout, /Evaluators: 0 to create, 0 to update, 0 to delete, 1 unchanged\./);
    });

    it("exits 1 and shows each differing flag's changed values, old and new", async () => {
      await seedBoth();
      await staging.api("PUT", "/flags/checkout", {
        body: {
          ...rich({ targeting: { if: [{ $ref: "beta-users" }, "on", "off"] } }),
          defaultVariant: "on",
          metadata: { team: "payments" },
          description: "new checkout",
        },
      });
      await created(staging.api, {
        flagName: "banner",
        state: "DISABLED",
        variants: { red: "#f00", blue: "#00f" },
        defaultVariant: "red",
      });
      await evaluator(staging.api, "beta-users", { in: [{ var: "email" }, ["a@example.com", "b@example.com"]] });

      const run = await cli(["diff", "--from", staging.service.url, "--to", prod.service.url]);

      assert.equal(run.code, 1, run.stderr);
      const lines = run.stdout.split("\n");
      const checkout = lines.indexOf("~ flag checkout (update)");
      assert.notEqual(checkout, -1, run.stdout);
      assert.ok(lines.includes('      defaultVariant: "off" -> "on"'), run.stdout);
      assert.ok(lines.includes('      metadata: {"team":"payments"}'), run.stdout);
      assert.ok(lines.includes('      description: "new checkout"'), run.stdout);
      assert.ok(lines.includes("+ flag banner (create)"), run.stdout);
      assert.ok(lines.includes('      state: "DISABLED"'), run.stdout);
      assert.ok(lines.includes('      variants: {"red":"#f00","blue":"#00f"}'), run.stdout);
      assert.ok(lines.includes("~ evaluator beta-users (update)"), run.stdout);
      assert.ok(lines.includes('      in[1][1]: "b@example.com"'), run.stdout);
      assert.match(run.stdout, /Flags: 1 to create, 1 to update, 0 to delete, 0 unchanged\./);
    });

    it("counts what only the target has as a difference only with --prune", async () => {
      await seedBoth();
      await created(prod.api, { flagName: "prod-only", value: 1 });

      const kept = await cli(["diff", "--from", staging.service.url, "--to", prod.service.url]);
      const pruned = await cli(["diff", "--from", staging.service.url, "--to", prod.service.url, "--prune"]);

      assert.equal(kept.code, 0, kept.stderr);
      assert.match(kept.stdout, /flags only in the target, kept \(--prune deletes them\): prod-only/);
      assert.equal(pruned.code, 1, pruned.stderr);
      assert.ok(pruned.stdout.split("\n").includes("- flag prod-only (delete)"), pruned.stdout);
    });
  });

  describe("promote", () => {
    it("with --yes applies the source, after which diff finds nothing and the target serves the source's flags", async () => {
      await seedBoth();
      await created(staging.api, { flagName: "banner", value: "blue" });
      await staging.api("PUT", "/flags/checkout", { body: rich({ defaultVariant: "on" }) });

      const run = await cli(["promote", "--from", staging.service.url, "--to", prod.service.url, "--yes"]);
      const after = await cli(["diff", "--from", staging.service.url, "--to", prod.service.url]);

      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /~ flag checkout \(update\)/);
      assert.match(
        run.stdout,
        /Promoted: flags 1 created \(banner\), 1 updated \(checkout\), 0 deleted, 0 unchanged; evaluators 0 created, 0 updated, 0 deleted, 1 unchanged\./,
      );
      assert.equal(after.code, 0, after.stdout + after.stderr);
      assert.equal((await prod.api("GET", "/flags/banner")).body.value, "blue");
      assert.equal((await prod.api("GET", "/flags/checkout")).body.defaultVariant, "on");
    });

    it("keeps what the source lacks without --prune and deletes it with --prune", async () => {
      await seedBoth();
      await created(prod.api, { flagName: "prod-only", value: 1 });
      await evaluator(prod.api, "prod-rule", { "==": [1, 1] });

      const kept = await cli(["promote", "--from", staging.service.url, "--to", prod.service.url, "--yes"]);
      const stillThere = (await prod.api("GET", "/flags/prod-only")).status;
      const pruned = await cli([
        "promote",
        "--from",
        staging.service.url,
        "--to",
        prod.service.url,
        "--prune",
        "--yes",
      ]);

      assert.equal(kept.code, 0, kept.stderr);
      assert.match(kept.stdout, /Nothing to promote\./);
      assert.equal(stillThere, 200);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.match(
        pruned.stdout,
        /Promoted: flags 0 created, 0 updated, 1 deleted \(prod-only\), 1 unchanged; evaluators 0 created, 0 updated, 1 deleted \(prod-rule\), 1 unchanged\./,
      );
      assert.equal((await prod.api("GET", "/flags/prod-only")).status, 404);
      assert.equal((await prod.api("GET", "/evaluators/prod-rule")).status, 404);
      assert.equal((await prod.api("GET", "/flags/checkout")).status, 200);
    });

    it("promotes a hand-written flagd file (flags as an array, defaults left out), after which diff from it exits 0", async () => {
      const file = path.join(tmp, "hand.flags.json");
      fs.writeFileSync(
        file,
        JSON.stringify({
          $schema: "https://flagd.dev/schema/v0/flags.json",
          flags: [
            {
              key: "tiered",
              variants: { basic: "b", gold: "g" },
              defaultVariant: "basic",
              targeting: { if: [{ $ref: "gold-tier" }, "gold", null] },
              metadata: { owner: "web" },
            },
            { key: "off-switch", state: "DISABLED", variants: { on: true, off: false }, defaultVariant: "on" },
          ],
          $evaluators: { "gold-tier": { "==": [{ var: "tier" }, "gold"] } },
        }),
      );

      const before = await cli(["diff", "--from", file, "--to", prod.service.url]);
      const run = await cli(["promote", "--from", file, "--to", prod.service.url, "--yes"]);
      const after = await cli(["diff", "--from", file, "--to", prod.service.url]);

      assert.equal(before.code, 1, before.stderr);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(after.code, 0, after.stdout + after.stderr);
      assert.equal((await prod.api("GET", "/flags/tiered")).body.targeting.if[0].$ref, "gold-tier");
      assert.equal((await prod.api("GET", "/flags/off-switch")).body.state, "DISABLED");
    });

    it("exits 2 with DELETION_DISABLED when pruning would delete while the target's deletion switch is off", async () => {
      await prod.service.stop();
      prod = await startTestService({ allowFlagDeletion: () => false });
      await created(staging.api, { flagName: "shared", value: 1 });
      await created(prod.api, { flagName: "shared", value: 2 });
      await created(prod.api, { flagName: "prod-only", value: 1 });

      const run = await cli(["promote", "--from", staging.service.url, "--to", prod.service.url, "--prune", "--yes"]);

      assert.equal(run.code, 2);
      assert.match(run.stderr, /^feature-flags: PUT .*\/flagset\?prune=true: 403 DELETION_DISABLED/m);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
      assert.equal((await prod.api("GET", "/flags/prod-only")).status, 200);
      assert.equal((await prod.api("GET", "/flags/shared")).body.value, 2);
    });

    it("exits 2 with VERSION_CONFLICT when the target changes between the diff and the write, keeping that change", async () => {
      await seedBoth();
      await staging.api("PUT", "/flags/checkout", { body: rich({ defaultVariant: "on" }) });
      const proxy = await startRacingProxy(prod.service.url, async () => {
        await created(prod.api, { flagName: "hotfix", value: true });
      });

      try {
        const run = await cli(["promote", "--from", staging.service.url, "--to", proxy.url, "--yes"]);

        assert.equal(run.code, 2);
        assert.match(run.stderr, /412 VERSION_CONFLICT/);
        assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
        assert.equal((await prod.api("GET", "/flags/hotfix")).status, 200);
        assert.equal((await prod.api("GET", "/flags/checkout")).body.defaultVariant, "off");
      } finally {
        await proxy.close();
      }
    });

    it("refuses to ask on a stdin that is not a terminal without --yes: exit 2, nothing changed", async () => {
      await created(staging.api, { flagName: "banner", value: "blue" });

      const run = await cli(["promote", "--from", staging.service.url, "--to", prod.service.url]);

      assert.equal(run.code, 2);
      assert.match(run.stdout, /\+ flag banner \(create\)/);
      assert.match(run.stderr, /standard input is not a terminal.*--yes/);
      assert.equal((await prod.api("GET", "/flags/banner")).status, 404);
    });
  });

  describe("promote on a terminal", () => {
    it("asks before writing: answered no, exits 1 and changes nothing; answered yes, applies", async () => {
      await created(staging.api, { flagName: "banner", value: "blue" });
      const args = ["promote", "--from", staging.service.url, "--to", prod.service.url];

      const declined = await cliOnTerminal(args, "n");
      const notApplied = (await prod.api("GET", "/flags/banner")).status;
      const accepted = await cliOnTerminal(args, "y");

      assert.equal(declined.code, 1, declined.stdout);
      assert.match(declined.stdout, new RegExp(`Apply these changes to ${escape(prod.service.url)}\\? \\[y/N\\]`));
      assert.match(declined.stdout, /Not promoted; nothing changed\./);
      assert.equal(notApplied, 404);
      assert.equal(accepted.code, 0, accepted.stdout);
      assert.match(accepted.stdout, /Promoted: flags 1 created \(banner\)/);
      assert.equal((await prod.api("GET", "/flags/banner")).body.value, "blue");
    });
  });

  describe("export", () => {
    it("writes a flagd document that validates against flags.json and promotes from the file", async () => {
      await seedBoth();
      await created(staging.api, { flagName: "banner", value: "blue", description: "hero color" });
      const file = path.join(tmp, "staging.flags.json");

      const run = await cli(["export", "--from", staging.service.url, "-o", file]);
      const document = JSON.parse(fs.readFileSync(file, "utf8")) as { flags: object; $evaluators: object };
      const validate = flagdValidator();
      const roundTrip = await cli(["diff", "--from", file, "--to", staging.service.url]);
      const fromFile = await cli(["promote", "--from", file, "--to", prod.service.url, "--yes"]);

      assert.equal(run.code, 0, run.stderr);
      assert.ok(validate(document), JSON.stringify(validate.errors));
      assert.deepEqual(Object.keys(document.flags).sort(), ["banner", "checkout"]);
      assert.deepEqual(Object.keys(document.$evaluators), ["beta-users"]);
      assert.equal(roundTrip.code, 0, roundTrip.stdout + roundTrip.stderr);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.equal((await prod.api("GET", "/flags/banner")).body.value, "blue");
    });

    it("writes the document to standard output without -o", async () => {
      await created(staging.api, { flagName: "banner", value: "blue" });

      const run = await cli(["export", "--from", staging.service.url]);

      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(Object.keys(JSON.parse(run.stdout).flags), ["banner"]);
    });
  });

  describe("errors (exit 2, a message, no stack trace)", () => {
    it("rejects unknown commands, unknown options and missing --to", async () => {
      const runs = await Promise.all([
        cli(["publish"]),
        cli(["diff", "--from", staging.service.url, "--to", prod.service.url, "--force"]),
        cli(["diff", "--from", staging.service.url]),
      ]);

      assert.deepEqual(
        runs.map((run) => run.code),
        [2, 2, 2],
      );
      assert.match(runs[0].stderr, /unknown command 'publish'/);
      assert.match(runs[1].stderr, /unknown option '--force'/);
      assert.match(runs[2].stderr, /required option '--to <url>' not specified/);
    });

    it("names an unreachable service and a missing file", async () => {
      const port = await closedPort();

      const unreachable = await cli(["diff", "--from", staging.service.url, "--to", `http://127.0.0.1:${port}`]);
      const missing = await cli(["diff", "--from", path.join(tmp, "nope.json"), "--to", prod.service.url]);

      assert.equal(unreachable.code, 2);
      assert.match(
        unreachable.stderr,
        new RegExp(`GET http://127\\.0\\.0\\.1:${port}/flagset: cannot reach the service \\(ECONNREFUSED\\)`),
      );
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /cannot read .*nope\.json \(ENOENT\)/);
      for (const run of [unreachable, missing]) assert.doesNotMatch(run.stderr, /\n\s+at /);
    });

    it("shows the service's reason for rejecting a document, and changes nothing", async () => {
      const file = path.join(tmp, "bad.flags.json");
      const flags = { good: rich(), bad: rich({ defaultVariant: "missing" }) };
      fs.writeFileSync(file, JSON.stringify({ flags }));

      const run = await cli(["promote", "--from", file, "--to", prod.service.url, "--yes"]);

      assert.equal(run.code, 2);
      assert.match(run.stderr, /^feature-flags: PUT .*\/flagset\?prune=false: 400 VALIDATION_FAILED: .*flags\.bad/m);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
      assert.equal((await prod.api("GET", "/flags/good")).status, 404);
    });

    it("uses FLAGS_FROM_TOKEN and FLAGS_TO_TOKEN over FLAGS_TOKEN, and shows the service's answer to a bad one", async () => {
      await created(staging.api, { flagName: "banner", value: "blue" });
      const args = ["promote", "--from", staging.service.url, "--to", prod.service.url, "--yes"];

      const badTo = await cli(args, { FLAGS_TOKEN: ADMIN_TOKEN, FLAGS_TO_TOKEN: "not-a-token-0123456789abcdef" });
      const readOnly = await cli(args, { FLAGS_FROM_TOKEN: READ_TOKEN, FLAGS_TO_TOKEN: READ_TOKEN });
      const good = await cli(args, { FLAGS_FROM_TOKEN: READ_TOKEN, FLAGS_TO_TOKEN: ADMIN_TOKEN, FLAGS_TOKEN: "wrong" });

      assert.equal(badTo.code, 2);
      assert.match(badTo.stderr, new RegExp(`GET ${escape(prod.service.url)}/flagset: 401`));
      assert.equal(readOnly.code, 2);
      assert.match(readOnly.stderr, new RegExp(`PUT ${escape(prod.service.url)}/flagset\\?prune=false: 403`));
      assert.equal(good.code, 0, good.stderr);
      assert.equal((await prod.api("GET", "/flags/banner")).body.value, "blue");
    });
  });
});
