/**
 * DynamoDB Local has no host option and no authentication: started as its jar starts it, it listens
 * on every interface (`:::<port>`). The local runtime starts it through its own main class
 * (local/dynamodb-launcher), which binds it to 127.0.0.1; these tests read the kernel's socket
 * tables to prove it.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { compileLauncher } from "../../local/dynamodb-launcher/build";
import { LAUNCHER_CLASS, LAUNCHER_DIR } from "../../local/dynamodbCommand";
import { type SupervisedDynamoDb, superviseDynamoDbLocal } from "../../local/supervisor";
import { sharedDynamo } from "../support/hooks";
import { externalAddresses, isLoopback, listeningSockets } from "../support/sockets";

/** Resolves with the connection's error code, or "connected". */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("DynamoDB Local listens on this machine's loopback interface only", () => {
  let dynamo: SupervisedDynamoDb;
  let pid: number;
  let port: number;

  before(async () => {
    dynamo = await superviseDynamoDbLocal({ startTimeoutMs: 60_000 });
    pid = dynamo.pid as number;
    port = Number(new URL(dynamo.endpoint).port);
  });
  after(async () => {
    await dynamo?.stop();
  });

  it("binds every socket its Java process listens on to 127.0.0.1 or ::1", () => {
    const sockets = listeningSockets(pid);

    assert.deepEqual(
      sockets.map((s) => s.port),
      [port],
      `listening: ${JSON.stringify(sockets)}`,
    );
    for (const socket of sockets) assert.ok(isLoopback(socket.address), `listens on ${socket.address}:${socket.port}`);
  });

  it("refuses connections to this machine's other addresses", async () => {
    const addresses = externalAddresses();

    const outcomes = await Promise.all(addresses.map(async (host) => [host, await tryConnect(host, port)]));

    for (const [host, outcome] of outcomes) assert.notEqual(outcome, "connected", `reachable on ${host}:${port}`);
    assert.equal(await tryConnect("127.0.0.1", port), "connected");
  });

  it("runs with its telemetry off", () => {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");

    assert.ok(args.includes("-disableTelemetry"), args.join(" "));
    assert.ok(env.includes("DDB_LOCAL_TELEMETRY=0"));
  });

  it("is the same launcher the test suite's shared DynamoDB Local runs on", async () => {
    const shared = await sharedDynamo();

    const sockets = listeningSockets(shared.pid as number);

    assert.ok(sockets.length > 0, "the shared DynamoDB Local listens on nothing");
    for (const socket of sockets) assert.ok(isLoopback(socket.address), `listens on ${socket.address}:${socket.port}`);
  });

  it("runs the class compiled from the committed launcher source", function () {
    // Compiling needs a JDK (javac); running the launcher needs only Java 17+.
    if (spawnSync("javac", ["-version"]).error !== undefined) this.skip();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-"));
    try {
      const compiled = compileLauncher(out);

      assert.ok(
        fs.readFileSync(compiled).equals(fs.readFileSync(path.join(LAUNCHER_DIR, `${LAUNCHER_CLASS}.class`))),
        "LoopbackDynamoDbLocal.class is not what its .java compiles to: run npm run build:dynamodb-launcher",
      );
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
