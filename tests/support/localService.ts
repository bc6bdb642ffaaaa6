import { type RunningService, type ServiceOptions, startService } from "../../local/service";
import { sharedDynamo, uniqueTableName } from "./hooks";
import { type Client, client } from "./http";
import { ADMIN_TOKEN, TEST_TOKENS } from "./tokens";

export interface TestServiceOptions {
  allowFlagDeletion?: () => boolean;
  corsOrigins?: string[];
  auditDataDir?: string;
  logger?: ServiceOptions["logger"];
  websocketLimits?: ServiceOptions["websocketLimits"];
  /** Default 0 (off): suites evaluate over OFREP from one address far faster than a browser would. */
  ofrepRateLimit?: number;
  eventStreamLimits?: ServiceOptions["eventStreamLimits"];
}

/**
 * A local service on a random port, over its own table in the run's shared DynamoDB Local, with
 * the test tokens. `api` authenticates as admin; `as(token)` as anyone (undefined: no header).
 */
export async function startTestService(options: TestServiceOptions = {}): Promise<{
  service: RunningService;
  api: Client;
  as: (token: string | undefined) => Client;
}> {
  const dynamo = await sharedDynamo();
  const service = await startService({
    port: 0,
    dynamoEndpoint: dynamo.endpoint,
    tableName: uniqueTableName("http"),
    allowFlagDeletion: options.allowFlagDeletion ?? (() => true),
    tokens: TEST_TOKENS,
    corsOrigins: options.corsOrigins,
    auditDataDir: options.auditDataDir,
    logger: options.logger,
    websocketLimits: options.websocketLimits,
    ofrepRateLimit: options.ofrepRateLimit ?? 0,
    eventStreamLimits: options.eventStreamLimits,
  });
  return { service, api: client(service.url, ADMIN_TOKEN), as: (token) => client(service.url, token) };
}

/**
 * A local service over `tableName` in the run's shared DynamoDB Local, with the test tokens and
 * deletion allowed: stopping it keeps the data, so another start over the same name is a restart.
 */
export async function serviceOverTable(
  tableName: string,
  options: Partial<ServiceOptions> = {},
): Promise<RunningService> {
  const dynamo = await sharedDynamo();
  return startService({
    port: 0,
    dynamoEndpoint: dynamo.endpoint,
    tableName,
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    ofrepRateLimit: 0,
    ...options,
  });
}
