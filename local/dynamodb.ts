/** The client side of DynamoDB Local: what its clients share. Starting it is `./supervisor.ts`. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

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
