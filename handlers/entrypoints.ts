/**
 * Lambda entrypoints: each builds its clients at cold start from the function's environment and
 * returns the handler. The Pulumi components pass these as `callbackFactory`.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeRestAuthorizer, makeWebSocketAuthorizer } from "./auth/authorizers";
import { parseTokenRecords } from "./auth/tokens";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "./flags/routes";
import { makeFlagStore } from "./flags/store";
import { makeProxyHandler } from "./http";

/** Environment variable names the components set and the entrypoints read. */
export const ENV = {
  flagsTable: "FLAGS_TABLE_NAME",
  deletionParameter: "ALLOW_FLAG_DELETION_PARAMETER",
  tokensParameter: "API_TOKENS_PARAMETER",
  /** JSON array of allowed CORS origins; absent or `[]` means CORS off. */
  corsOrigins: "CORS_ORIGINS",
} as const;

/** How long a read of `allow-flag-deletion` is reused: a flipped switch applies within this. */
export const DELETION_SETTING_MAX_AGE_SECONDS = 10;
/** How long token records are reused by an authorizer instance: a revoked token stops within this. */
export const TOKENS_MAX_AGE_SECONDS = 60;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
  return value;
}

function corsOriginsFromEnv(): string[] {
  const raw = process.env[ENV.corsOrigins];
  return raw === undefined || raw === "" ? [] : (JSON.parse(raw) as string[]);
}

function proxyHandler(routes: Parameters<typeof makeProxyHandler>[0]) {
  return makeProxyHandler(routes, new Logger(), { corsOrigins: corsOriginsFromEnv() });
}

function flagStoreFromEnv() {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  return makeFlagStore({ doc, tableName: requiredEnv(ENV.flagsTable) });
}

export function flagReadsEntrypoint() {
  return proxyHandler(makeReadRoutes({ store: flagStoreFromEnv() }));
}

export function flagWritesEntrypoint() {
  return proxyHandler(makeWriteRoutes({ store: flagStoreFromEnv() }));
}

export function flagDeleteEntrypoint() {
  const parameterName = requiredEnv(ENV.deletionParameter);
  const ssm = new SSMProvider({ awsSdkV3Client: new SSMClient({}) });
  const isDeletionAllowed = async () =>
    (await ssm.get(parameterName, { maxAge: DELETION_SETTING_MAX_AGE_SECONDS })) === "true";
  return proxyHandler(makeDeleteRoutes({ store: flagStoreFromEnv(), isDeletionAllowed }));
}

/** Token records from the SecureString parameter, decrypted and cached by Powertools Parameters. */
function tokensFromEnv() {
  const parameterName = requiredEnv(ENV.tokensParameter);
  const ssm = new SSMProvider({ awsSdkV3Client: new SSMClient({}) });
  return async () => parseTokenRecords(await ssm.get(parameterName, { decrypt: true, maxAge: TOKENS_MAX_AGE_SECONDS }));
}

export function restAuthorizerEntrypoint() {
  return makeRestAuthorizer({ loadTokens: tokensFromEnv() });
}

export function webSocketAuthorizerEntrypoint() {
  return makeWebSocketAuthorizer({ loadTokens: tokensFromEnv() });
}
