import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type RunningService, startService } from "../../local/service";
import { superviseDynamoDbLocal } from "../../local/supervisor";
import { client, type Client } from "../support/http";
import { isAlive, javaProcessesFor, waitFor } from "../support/processes";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";
import { connect } from "../support/wsClient";

describe("DynamoDB Local dies under a running service", () => {
  let dataDir: string;
  let service: RunningService;
  let api: Client;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-dependency-"));
    service = await startService({
      port: 0,
      dataDir,
      auditDataDir: dataDir,
      allowFlagDeletion: () => true,
      tokens: TEST_TOKENS,
    });
    api = client(service.url, ADMIN_TOKEN);
  });
  after(async () => {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers 503 DEPENDENCY_UNAVAILABLE (never 500) while it is down, then restarts it and resumes, losing nothing", async () => {
    await api("POST", "/flags", { body: { flagName: "survivor", value: "before" } });
    const listener = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
    await listener.waitFor((m) => m.type === "snapshot");
    const java = service.dynamoPid() as number;

    process.kill(java, "SIGKILL");
    assert.ok(await waitFor(() => !isAlive(java), 5000));

    // Down: health and flag routes say so, with the contract's body.
    const health = await api("GET", "/health");
    assert.equal(health.status, 503);
    assert.equal(health.body.error.code, "DEPENDENCY_UNAVAILABLE");
    const read = await api("GET", "/flags/survivor");
    assert.equal(read.status, 503);
    assert.equal(read.body.error.code, "DEPENDENCY_UNAVAILABLE");

    // Restarted on the same data dir: the flag is there, and changes flow to clients again.
    assert.ok(await waitFor(async () => (await api("GET", "/health")).status === 200, 90_000), "never came back");
    assert.notEqual(service.dynamoPid(), java);
    assert.equal((await api("GET", "/flags/survivor")).body.value, "before");
    await api("PUT", "/flags/survivor", { body: { value: "after" } });
    const update = await listener.waitFor((m) => m.type === "flag.updated" && m.flag.value === "after", 15_000);
    assert.equal(update.flag.version, 2);
    await listener.close();
    assert.equal(javaProcessesFor(dataDir).length, 1);
  });
});

describe("DynamoDB Local supervision", () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives up after its restarts fail, saying so, and leaves no Java behind", async () => {
    const dynamo = await superviseDynamoDbLocal({ maxRestarts: 0 });
    const gaveUp = new Promise<Error>((resolve) => dynamo.onGiveUp(resolve));

    process.kill(dynamo.pid as number, "SIGKILL");

    assert.match((await gaveUp).message, /DynamoDB Local died and could not be restarted/);
    assert.equal(dynamo.available, false);
    await dynamo.stop();
  });

  it("stops a stale DynamoDB Local left on its data dir by a killed service (lock file)", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-stale-"));
    dirs.push(dataDir);
    // What `kill -9` of a service leaves where Java cannot die with it (no setpriv): a lock naming
    // a dead service, and its DynamoDB Local still running on the data dir.
    // Stands in for its Java: a process whose command line names the jar and the data dir.
    const stale = spawn(process.execPath, [
      "-e",
      "setInterval(() => {}, 1000)",
      "DynamoDBLocal.jar",
      "-dbPath",
      dataDir,
    ]);
    after(() => stale.kill("SIGKILL"));
    const deadService = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => deadService.once("exit", resolve));
    fs.writeFileSync(
      path.join(dataDir, ".dynamodb-local.lock"),
      JSON.stringify({ pid: deadService.pid, javaPid: stale.pid }),
    );
    assert.equal(javaProcessesFor(dataDir).length, 1);

    const dynamo = await superviseDynamoDbLocal({ dataDir });
    try {
      assert.equal(isAlive(stale.pid as number), false, "the stale DynamoDB Local is still running");
      assert.equal(javaProcessesFor(dataDir).length, 1);
    } finally {
      await dynamo.stop();
    }
    assert.deepEqual(javaProcessesFor(dataDir), []);
  });

  it("refuses a data dir held by a running service", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-held-"));
    dirs.push(dataDir);
    fs.writeFileSync(path.join(dataDir, ".dynamodb-local.lock"), JSON.stringify({ pid: process.ppid }));

    await assert.rejects(superviseDynamoDbLocal({ dataDir }), /in use by another running service/);
    assert.deepEqual(javaProcessesFor(dataDir), []);
  });
});
