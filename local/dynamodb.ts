import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { superviseDynamoDbLocal, type SupervisorOptions } from "./supervisor";

export interface DynamoDbLocal {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  /** The Java process's id while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined;
  /** Stops the Java process and waits for it to exit. */
  stop(): Promise<void>;
}

/** Credentials DynamoDB Local accepts; with `sharedDb` it keeps one database whatever they are. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "local";

export function localDynamoClient(
  endpoint: string,
  options: { requestTimeout?: number; maxAttempts?: number } = {},
): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: options.maxAttempts,
    requestHandler:
      options.requestTimeout === undefined
        ? undefined
        : { requestTimeout: options.requestTimeout, throwOnRequestTimeout: true },
  });
}

/**
 * Starts DynamoDB Local (needs Java 17+) on a free port, supervised (`./supervisor.ts`). Tests
 * and the bench share one this way; a failure to start names its cause in the message.
 */
export function startDynamoDbLocal(
  options: Pick<SupervisorOptions, "dataDir" | "startTimeoutMs"> = {},
): Promise<DynamoDbLocal> {
  // A cold JVM on a busy machine shared by parallel test runs is slow: a generous deadline.
  return superviseDynamoDbLocal({ startTimeoutMs: 60_000, ...options });
}
