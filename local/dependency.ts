/** The local service's dependency: DynamoDB Local, checked and supervised, or an endpoint it was given. */
import { checkDatabaseFile, checkDataDirWritable, checkJava } from "./preflight";
import { superviseDynamoDbLocal } from "./supervisor";
import type { Teardown } from "./teardown";

/** Whether DynamoDB is there to serve; always true for an endpoint the service did not start. */
export interface Dependency {
  endpoint: string;
  available(): boolean;
  pid(): number | undefined;
  onRestart(hook: () => Promise<void>): void;
  stopRestarting(): void;
}

/** What this step reads of the service's options (`ServiceOptions` documents each). */
export interface DependencyOptions {
  dynamoEndpoint?: string;
  dataDir?: string;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  onFatal?: (error: Error) => void;
}

/** Step: DynamoDB Local, checked for what commonly stops it and then supervised; or a given endpoint. */
export async function startDependency(options: DependencyOptions, teardown: Teardown): Promise<Dependency> {
  if (options.dynamoEndpoint !== undefined) {
    const endpoint = options.dynamoEndpoint;
    const none = () => undefined;
    return { endpoint, available: () => true, pid: none, onRestart: none, stopRestarting: none };
  }
  if (options.dataDir !== undefined) {
    checkDataDirWritable(options.dataDir);
    checkDatabaseFile(options.dataDir);
  }
  await checkJava();
  const dynamo = await superviseDynamoDbLocal({
    dataDir: options.dataDir,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  teardown.add(() => dynamo.stop());
  if (options.onFatal !== undefined) dynamo.onGiveUp(options.onFatal);
  return {
    endpoint: dynamo.endpoint,
    available: () => dynamo.available,
    pid: () => dynamo.pid,
    onRestart: (hook) => dynamo.onRestart(hook),
    stopRestarting: () => dynamo.stopRestarting(),
  };
}
