import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { client as anonymousClient } from "../support/http";
import { javaProcessesFor, waitFor } from "../support/processes";
import { ADMIN_TOKEN } from "../support/tokens";

const client = (url: string) => anonymousClient(url, ADMIN_TOKEN);

const PROJECT_ROOT = path.resolve(__dirname, "../..");

interface Started {
  child: ChildProcess;
  url: string;
  dataDir: string | undefined;
  output: () => string;
}

/**
 * Runs `npm start` as a user would and waits for its `ready http://127.0.0.1:<port>` line. With
 * `prestart: false` npm skips the `prestart` script (`--ignore-scripts` still runs `start`
 * itself), which rebuilds the console each time: the console these tests never open was built by
 * `npm ci`, and one test still starts with the rebuild.
 */
function npmStart(env: Record<string, string>, { prestart = false } = {}): Promise<Started> {
  const child = spawn("npm", ["start", "--silent", ...(prestart ? [] : ["--ignore-scripts"])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT", FLAGS_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, like a terminal job, so Ctrl-C can be sent the way a terminal does.
    detached: true,
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (http:\/\/127\.0\.0\.1:(\d+))$/m.exec(output);
      if (ready !== null) resolve({ child, url: ready[1], dataDir: env.FLAGS_DATA_DIR, output: () => output });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code} before ready:\n${output}`)));
  });
}

/**
 * Stops `npm start` and waits until it has exited and its DynamoDB Local is gone too. SIGINT goes
 * to the whole process group, as Ctrl-C in a terminal does; SIGTERM to npm alone, as `kill` does.
 */
async function stop(started: Started, signal: NodeJS.Signals): Promise<number | null> {
  const code = await new Promise<number | null>((resolve) => {
    started.child.once("exit", (exitCode) => resolve(exitCode));
    if (signal === "SIGINT") process.kill(-(started.child.pid as number), signal);
    else started.child.kill(signal);
  });
  const dir = started.dataDir;
  if (dir !== undefined && !(await waitFor(() => javaProcessesFor(dir).length === 0, 15_000))) {
    throw new Error(`DynamoDB Local still running after ${signal}:\n${javaProcessesFor(dir).join("\n")}`);
  }
  return code;
}

describe("npm start (the local runtime as a process)", () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-data-"));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs two instances side by side on their own ports and data dirs", async () => {
    const [dirA, dirB] = [dataDir(), dataDir()];
    const [a, b] = await Promise.all([
      npmStart({ PORT: "0", FLAGS_DATA_DIR: dirA }, { prestart: true }),
      npmStart({ PORT: "0", FLAGS_DATA_DIR: dirB }, { prestart: true }),
    ]);
    try {
      assert.notEqual(a.url, b.url);
      assert.equal((await client(a.url)("POST", "/flags", { body: { flagName: "only-in-a", value: 1 } })).status, 201);
      assert.equal((await client(b.url)("GET", "/flags/only-in-a")).status, 404);
    } finally {
      await Promise.all([stop(a, "SIGTERM"), stop(b, "SIGTERM")]);
    }
  });

  it("keeps flags in FLAGS_DATA_DIR across restarts", async () => {
    const dir = dataDir();
    const first = await npmStart({ PORT: "0", FLAGS_DATA_DIR: dir });
    await client(first.url)("POST", "/flags", { body: { flagName: "durable", value: "kept" } });
    await stop(first, "SIGTERM");
    const second = await npmStart({ PORT: "0", FLAGS_DATA_DIR: dir });
    try {
      assert.equal((await client(second.url)("GET", "/flags/durable")).body.value, "kept");
    } finally {
      await stop(second, "SIGTERM");
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops on ${signal === "SIGINT" ? "Ctrl-C (SIGINT)" : signal} and leaves no Java process behind`, async () => {
      const dir = dataDir();
      const started = await npmStart({ PORT: "0", FLAGS_DATA_DIR: dir });
      assert.equal(javaProcessesFor(dir).length, 1);
      const code = await stop(started, signal);
      assert.ok(code === 0 || code === null, `exit code ${code}\n${started.output()}`);
      assert.deepEqual(javaProcessesFor(dir), []);
    });
  }

  it("takes its Java down when the service is killed with kill -9, and the next start runs on the same data dir", async () => {
    const dir = dataDir();
    const first = await npmStart({ PORT: "0", FLAGS_DATA_DIR: dir });
    const created = await client(first.url)("POST", "/flags", { body: { flagName: "kept", value: 1 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const lock = JSON.parse(fs.readFileSync(path.join(dir, ".dynamodb-local.lock"), "utf8")) as { pid: number };
    const npmExited = new Promise((resolve) => first.child.once("exit", resolve));

    process.kill(lock.pid, "SIGKILL"); // the service itself, as the OOM killer would
    await npmExited;

    assert.ok(await waitFor(() => javaProcessesFor(dir).length === 0, 15_000), javaProcessesFor(dir).join("\n"));
    const second = await npmStart({ PORT: "0", FLAGS_DATA_DIR: dir });
    try {
      assert.equal(javaProcessesFor(dir).length, 1);
      const read = await client(second.url)("GET", "/flags/kept");
      assert.equal(read.status, 200, `${JSON.stringify(read.body)}\n${first.output()}\n${second.output()}`);
      assert.equal(read.body.value, 1);
    } finally {
      await stop(second, "SIGTERM");
    }
  });

  it("reads allowFlagDeletion from ALLOW_FLAG_DELETION", async () => {
    const started = await npmStart({ PORT: "0", FLAGS_IN_MEMORY: "1", ALLOW_FLAG_DELETION: "false" });
    try {
      const api = client(started.url);
      await api("POST", "/flags", { body: { flagName: "stay", value: 1 } });
      const result = await api("DELETE", "/flags/stay");
      assert.equal(result.status, 403);
      assert.equal(result.body.error.code, "DELETION_DISABLED");
    } finally {
      await stop(started, "SIGTERM");
    }
  });
});
