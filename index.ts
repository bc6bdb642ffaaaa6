import * as pulumi from "@pulumi/pulumi";
import { FlagApi, Realtime } from "./components";
import type { TokenConfig } from "./handlers/auth/tokens";

const config = new pulumi.Config();
const project = pulumi.getProject();
const stack = pulumi.getStack();

const flagApi = new FlagApi(`${project}-${stack}`, {
  allowFlagDeletion: config.getBoolean("allowFlagDeletion") ?? true,
  parameterPrefix: `/${project}/${stack}`,
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
  apiTokens: config.getSecretObject<TokenConfig[]>("apiTokens"),
  corsOrigins: config.getObject<string[]>("corsOrigins"),
});

const realtime = new Realtime(`${project}-${stack}`, {
  flagsTable: { name: flagApi.tableName, arn: flagApi.tableArn, streamArn: flagApi.tableStreamArn },
  tokensParameter: flagApi.tokensParameter,
  logRetentionDays: config.getNumber("logRetentionDays") ?? 30,
});

export const apiUrl = flagApi.apiUrl;
export const websocketUrl = realtime.websocketUrl;
export const flagsTableName = flagApi.tableName;
export const allowFlagDeletionParameter = flagApi.allowFlagDeletionParameter;
