/**
 * Lambda entrypoints: each builds its clients at cold start from the function's environment and
 * returns the handler. The Pulumi components pass these as `callbackFactory`.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "./flags/routes";
import { makeFlagStore } from "./flags/store";
import { makeProxyHandler } from "./http";

/** Environment variable names the components set and the entrypoints read. */
export const ENV = {
  flagsTable: "FLAGS_TABLE_NAME",
  deletionParameter: "ALLOW_FLAG_DELETION_PARAMETER",
} as const;

/** How long a read of `allow-flag-deletion` is reused: a flipped switch applies within this. */
export const DELETION_SETTING_MAX_AGE_SECONDS = 10;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
  return value;
}

function flagStoreFromEnv() {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return makeFlagStore({ doc, tableName: requiredEnv(ENV.flagsTable) });
}

export function flagReadsEntrypoint() {
  return makeProxyHandler(makeReadRoutes({ store: flagStoreFromEnv() }), new Logger());
}

export function flagWritesEntrypoint() {
  return makeProxyHandler(makeWriteRoutes({ store: flagStoreFromEnv() }), new Logger());
}

export function flagDeleteEntrypoint() {
  const parameterName = requiredEnv(ENV.deletionParameter);
  const ssm = new SSMProvider({ awsSdkV3Client: new SSMClient({}) });
  const isDeletionAllowed = async () =>
    (await ssm.get(parameterName, { maxAge: DELETION_SETTING_MAX_AGE_SECONDS })) === "true";
  return makeProxyHandler(makeDeleteRoutes({ store: flagStoreFromEnv(), isDeletionAllowed }), new Logger());
}
