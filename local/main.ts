/**
 * `npm start`: the whole service on one machine. Prints `ready http://127.0.0.1:<port>` once it
 * serves; Ctrl-C or SIGTERM stops it and the DynamoDB Local it started, at any moment.
 *
 * A start-up that cannot succeed prints one line (no stack trace unless FLAGS_DEBUG=1 or
 * DEBUG is set) and exits with code 1.
 */
import * as path from "node:path";
import { type LocalConfig, resolveLocalConfig, tokenLines } from "./config";
import { checkDatabaseFile, checkDataDirWritable, checkJava, StartupError } from "./preflight";
import type { RunningService } from "./service";

const verbose = () => process.env.FLAGS_DEBUG === "1" || (process.env.DEBUG ?? "") !== "";

function explain(error: unknown): string {
  if (verbose() && error instanceof Error) return error.stack ?? error.message;
  if (error instanceof StartupError) return error.message;
  return `${error instanceof Error ? error.message : String(error)} (FLAGS_DEBUG=1 shows details)`;
}

function printBanner(config: LocalConfig, service: RunningService): void {
  console.log(`data: ${config.dataDir ?? "in memory (FLAGS_IN_MEMORY=1)"}; stack config: Pulumi.${config.stack}.yaml`);
  console.log(`flag deletion: ${config.allowFlagDeletion() ? "allowed" : "disabled"}`);
  console.log(`audit trail: ${config.dataDir === undefined ? "off (nothing on disk)" : `${config.dataDir}/audit/`}`);
  // A count, not the URLs: a chat webhook's URL is itself a credential.
  console.log(`change events: ${config.webhooks.length} webhook(s) from FLAGS_WEBHOOKS (no EventBridge locally)`);
  for (const line of tokenLines(config)) console.log(line);
  console.log(`web console: ${service.consoleUrl}`);
  console.log(`ready ${service.url}`);
}

async function main(): Promise<void> {
  // Signals are handled from the first moment: a stop during start-up aborts it and undoes it.
  const aborted = new AbortController();
  let service: RunningService | undefined;
  let stopping = false;
  const shutdown = (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    console.log(`${why}: stopping`);
    aborted.abort();
    // A service still starting is stopped by its own start-up unwinding (see below).
    if (service === undefined) return;
    service.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        console.error(`failed to stop cleanly: ${explain(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  // `npm start` does not pass SIGTERM on to this process: when npm goes, this process is
  // re-parented. Noticing that is what keeps a stopped `npm start` from leaving Java behind.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown("parent process gone");
  }, 250).unref();

  // What commonly stops a start-up is checked before the service's modules load (seconds on a
  // busy machine), so those failures take a moment, not half a minute.
  const config = resolveLocalConfig(process.env, path.resolve(__dirname, ".."));
  if (config.dataDir !== undefined) {
    checkDataDirWritable(config.dataDir);
    checkDatabaseFile(config.dataDir);
  }
  await checkJava();
  const { startService } = await import("./service");
  try {
    service = await startService({
      port: config.port,
      dataDir: config.dataDir,
      allowFlagDeletion: config.allowFlagDeletion,
      tokens: config.tokens,
      corsOrigins: config.corsOrigins,
      ofrepRateLimit: config.ofrepRateLimit,
      auditDataDir: config.dataDir,
      webhooks: config.webhooks,
      webhookDataDir: config.dataDir,
      signal: aborted.signal,
      onProgress: (line) => console.log(line),
      onFatal: (error) => {
        console.error(error.message);
        stopping = false;
        shutdown("DynamoDB Local is gone", 1);
      },
    });
  } catch (error) {
    // Interrupted by a signal: everything started has been stopped; that is a clean exit.
    if (stopping) process.exit(0);
    throw error;
  }
  if (stopping) {
    await service.stop();
    process.exit(0);
  }
  printBanner(config, service);
}

main().catch((error: unknown) => {
  console.error(explain(error));
  process.exit(1);
});
