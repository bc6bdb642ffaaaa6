/** The web console's browser suites' service: the console built once per run, served by a local service. */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildConsole } from "../../console/build";
import { type RunningService, type ServiceOptions, startService } from "../../local/service";
import { sharedDynamo, uniqueTableName } from "./hooks";
import { type Client, client } from "./http";
import { ADMIN_TOKEN, TEST_TOKENS } from "./tokens";

let built: Promise<string> | undefined;

/** The console built once for the whole run into a temporary folder (nothing writes into it), removed at exit. */
export function builtConsole(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "flags-console-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    await buildConsole(dir);
    return dir;
  })();
  return built;
}

/**
 * A local service over its own table (named after `label`) serving the built console, with the
 * test tokens and deletion allowed unless `options` say otherwise. `api` authenticates as admin.
 */
export async function startConsoleService(
  label: string,
  options: Partial<ServiceOptions> = {},
): Promise<{ service: RunningService; api: Client }> {
  const [consoleDir, dynamo] = await Promise.all([builtConsole(), sharedDynamo()]);
  const service = await startService({
    port: 0,
    dynamoEndpoint: dynamo.endpoint,
    tableName: uniqueTableName(label),
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    consoleDir,
    ...options,
  });
  return { service, api: client(service.url, ADMIN_TOKEN) };
}
