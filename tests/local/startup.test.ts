import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { javaMajorVersion } from "../../local/preflight";
import { javaProcessesFor, waitFor } from "../support/processes";
import { ADMIN_TOKEN } from "../support/tokens";

const PROJECT_ROOT = path.resolve(__dirname, "../..");

interface Outcome {
  code: number | null;
  /** What it wrote to stderr, line by line. */
  errors: string[];
  stdout: string;
  ms: number;
}

/**
 * Runs the local runtime's entry point (what `npm start` runs) and waits for it to exit. The AWS
 * SDK's own Node 20 deprecation warning is switched off: it is not the service's output.
 */
function run(env: Record<string, string | undefined>, onStdout?: (text: string, child: ChildProcess) => void) {
  const started = Date.now();
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "local/main.ts"], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: "SILENT",
      NODE_NO_WARNINGS: "1",
      FLAGS_ADMIN_TOKEN: ADMIN_TOKEN,
      PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<Outcome>((resolve) =>
    child.once("exit", (code) =>
      resolve({ code, errors: stderr.split("\n").filter((l) => l.trim() !== ""), stdout, ms: Date.now() - started }),
    ),
  );
}

/** A start-up failure as the contract wants it: exit 1 within 30 s, one line, no stack trace. */
function assertFailsClearly(outcome: Outcome, pattern: RegExp): void {
  assert.equal(outcome.code, 1, `exit code ${outcome.code}; stderr: ${outcome.errors.join("\n")}`);
  assert.ok(outcome.ms < 30_000, `took ${outcome.ms} ms`);
  assert.equal(outcome.errors.length, 1, `expected one line, got:\n${outcome.errors.join("\n")}`);
  assert.match(outcome.errors[0], pattern);
  assert.doesNotMatch(outcome.errors[0], /^\s+at /);
}

describe("npm start: start-ups that cannot succeed fail fast and clearly", () => {
  const dirs: string[] = [];
  const tempDir = (prefix = "flags-start-") => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A PATH holding only this `java` script (or none), so the real Java is out of reach. */
  const pathWithJava = (script: string | undefined) => {
    const bin = tempDir("flags-bin-");
    if (script !== undefined) fs.writeFileSync(path.join(bin, "java"), script, { mode: 0o755 });
    return bin;
  };

  it("names the environment variable of a too-short token, before starting anything", async () => {
    const dataDir = tempDir();
    const outcome = await run({ FLAGS_ADMIN_TOKEN: "short", FLAGS_DATA_DIR: dataDir });
    assertFailsClearly(outcome, /^FLAGS_ADMIN_TOKEN must be at least 24 characters/);
    assert.deepEqual(fs.readdirSync(dataDir), []);
  });

  it("says Java is missing and how to install it", async () => {
    const outcome = await run({ PATH: pathWithJava(undefined), FLAGS_IN_MEMORY: "1" });
    assertFailsClearly(outcome, /Java not found.*Java 17\+.*apt-get install openjdk-17-jre-headless/);
  });

  it("says Java is too old", async () => {
    const java = `#!/bin/sh\necho 'openjdk version "11.0.22" 2024-01-16' >&2\n`;
    const outcome = await run({ PATH: pathWithJava(java), FLAGS_IN_MEMORY: "1" });
    assertFailsClearly(outcome, /Java 11 found, but DynamoDB Local needs Java 17\+/);
  });

  it("names a data dir that takes no files", async () => {
    // Exists, yet no file can be created in it, even by root (as on a read-only mount).
    const outcome = await run({ FLAGS_DATA_DIR: "/proc/1" });
    assertFailsClearly(outcome, /^data dir \/proc\/1 is not writable .*FLAGS_DATA_DIR/);
  });

  it("names a corrupt database file and leaves it untouched", async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, "shared-local-instance.db");
    const garbage = Buffer.from("this is not an SQLite database, just some bytes\n".repeat(100));
    fs.writeFileSync(file, garbage);

    const outcome = await run({ FLAGS_DATA_DIR: dataDir });

    assertFailsClearly(outcome, new RegExp(`database file ${file} is corrupt.*untouched`));
    assert.deepEqual(fs.readFileSync(file), garbage);
    assert.deepEqual(javaProcessesFor(dataDir), []);
  });

  it("says the port is in use, and which", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const outcome = await run({ PORT: String(port), FLAGS_IN_MEMORY: "1" });
      assertFailsClearly(outcome, new RegExp(`^port ${port} is in use.*PORT`));
    } finally {
      blocker.close();
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops on ${signal} while DynamoDB Local is still starting, leaving nothing running`, async () => {
      const dataDir = tempDir();
      let sent = false;
      const outcome = await run({ FLAGS_DATA_DIR: dataDir }, (text, child) => {
        if (!sent && text.includes("starting DynamoDB Local")) {
          sent = true;
          child.kill(signal);
        }
      });

      assert.ok(sent, `never saw the progress line:\n${outcome.stdout}`);
      assert.doesNotMatch(outcome.stdout, /^ready /m);
      assert.equal(outcome.code, 0, outcome.errors.join("\n"));
      assert.ok(await waitFor(() => javaProcessesFor(dataDir).length === 0, 10_000), "Java outlived the service");
      assert.equal(fs.existsSync(path.join(dataDir, ".dynamodb-local.lock")), false);
    });
  }
});

describe("javaMajorVersion", () => {
  it("reads old and new version strings", () => {
    assert.equal(javaMajorVersion('openjdk version "17.0.15" 2025-04-15'), 17);
    assert.equal(javaMajorVersion('java version "1.8.0_392"'), 8);
    assert.equal(javaMajorVersion('openjdk version "21" 2023-09-19'), 21);
    assert.equal(javaMajorVersion("no version here"), undefined);
  });
});
