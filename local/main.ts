/**
 * `npm start`: the whole service on one machine. Prints `ready http://127.0.0.1:<port>` once it
 * serves; Ctrl-C or SIGTERM stops it and the DynamoDB Local it started.
 */
import * as path from "node:path";
import { resolveLocalConfig } from "./config";
import { startService } from "./service";

async function main(): Promise<void> {
  const projectDir = path.resolve(__dirname, "..");
  const config = resolveLocalConfig(process.env, projectDir);
  const service = await startService({
    port: config.port,
    dataDir: config.dataDir,
    allowFlagDeletion: config.allowFlagDeletion,
    tokens: config.tokens,
    corsOrigins: config.corsOrigins,
    auditDataDir: config.dataDir,
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("failed to stop cleanly", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  // `npm start` does not pass SIGTERM on to this process: when npm goes, this process is
  // re-parented. Noticing that is what keeps a stopped `npm start` from leaving Java behind.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown("SIGHUP");
  }, 250).unref();

  console.log(`data: ${config.dataDir ?? "in memory (FLAGS_IN_MEMORY=1)"}; stack config: Pulumi.${config.stack}.yaml`);
  console.log(`flag deletion: ${config.allowFlagDeletion() ? "allowed" : "disabled"}`);
  console.log(`audit trail: ${config.dataDir === undefined ? "off (nothing on disk)" : `${config.dataDir}/audit/`}`);
  for (const { id, token, scopes } of config.tokens) {
    const source = config.generatedTokenIds.includes(id)
      ? `${token}  (generated; set ${id === "admin" ? "FLAGS_ADMIN_TOKEN" : "FLAGS_READ_TOKEN"} to keep one)`
      : `from ${id === "admin" ? "FLAGS_ADMIN_TOKEN" : "FLAGS_READ_TOKEN"}`;
    console.log(`token ${id} (${scopes.join("+")}): ${source}`);
  }
  console.log(`ready ${service.url}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
