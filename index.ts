import * as pulumi from "@pulumi/pulumi";
import { FlagApi } from "./components";
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

export const apiUrl = flagApi.apiUrl;
export const flagsTableName = flagApi.tableName;
export const allowFlagDeletionParameter = flagApi.allowFlagDeletionParameter;
