import * as pulumi from "@pulumi/pulumi";
import { Compliance, FlagApi, Observability, Realtime } from "./components";
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

// Last, so every function of every component above is covered.
const observability = new Observability(`${project}-${stack}`, {
  functions: [flagApi.authorizer, ...Object.values(flagApi.functions), ...Object.values(realtime.functions)],
  restApi: { name: flagApi.api.name, stageName: flagApi.stage.stageName },
  webSocketApi: { id: realtime.api.id, stageName: realtime.stage.name },
  streamConsumers: [realtime.functions.fanout, realtime.functions.snapshot],
  deadLetterQueues: [realtime.deadLetterQueue],
  alarmEmail: config.get("alarmEmail"),
});

new Compliance(`${project}-${stack}`, { createConfigRecorder: config.getBoolean("createConfigRecorder") ?? false });

export const apiUrl = flagApi.apiUrl;
export const websocketUrl = realtime.websocketUrl;
export const flagsTableName = flagApi.tableName;
export const allowFlagDeletionParameter = flagApi.allowFlagDeletionParameter;
export const alarmTopicArn = observability.alarmTopicArn;
