import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { bearerToken, principalContext, type TokenConfig, toTokenRecords, verifyToken } from "../handlers/auth/tokens";
import { makeDeleteRoutes, makeReadRoutes, makeWriteRoutes } from "../handlers/flags/routes";
import { makeFlagStore } from "../handlers/flags/store";
import { errorBody, makeProxyHandler } from "../handlers/http";
import { ROUTES } from "../handlers/routes";
import { compileRoutes, tooLarge, toProxyEvent, writeProxyResult } from "./apigateway";
import { type DynamoDbLocal, localDynamoClient, startDynamoDbLocal } from "./dynamodb";
import { ensureFlagsTable } from "./tables";

export interface ServiceOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Persist here; undefined keeps everything in memory. Ignored when `dynamoEndpoint` is given. */
  dataDir?: string;
  /** Use this DynamoDB (Local) endpoint instead of starting one; tests share one this way. */
  dynamoEndpoint?: string;
  /** Default `flags`. Tests give each suite its own table in a shared DynamoDB Local. */
  tableName?: string;
  allowFlagDeletion: () => boolean;
  /** Accepted tokens; only their hashes are kept. None means every request but /health is refused. */
  tokens: TokenConfig[];
  /** Origins allowed by CORS; default none (CORS off). */
  corsOrigins?: string[];
}

export interface RunningService {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  /** Stops serving, then stops what it started (DynamoDB Local included). */
  stop(): Promise<void>;
}

/**
 * Runs the service on one machine: the same route handlers the Lambdas run, behind a Node HTTP
 * server that turns each request into an API Gateway proxy event.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  let dynamo: DynamoDbLocal | undefined;
  if (options.dynamoEndpoint === undefined) {
    if (options.dataDir !== undefined) fs.mkdirSync(options.dataDir, { recursive: true });
    dynamo = await startDynamoDbLocal({ dataDir: options.dataDir });
  }
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo as DynamoDbLocal).endpoint;
  const tableName = options.tableName ?? "flags";
  const client = localDynamoClient(dynamoEndpoint);
  const doc = DynamoDBDocumentClient.from(client);

  try {
    await ensureFlagsTable(client, tableName);
  } catch (error) {
    await dynamo?.stop();
    throw error;
  }

  const tokenRecords = toTokenRecords(options.tokens);
  const store = makeFlagStore({ doc, tableName });
  const handler = makeProxyHandler(
    {
      ...makeReadRoutes({ store }),
      ...makeWriteRoutes({ store }),
      ...makeDeleteRoutes({ store, isDeletionAllowed: async () => options.allowFlagDeletion() }),
    },
    new Logger({ serviceName: "feature-flags-local" }),
    { corsOrigins: options.corsOrigins },
  );
  const match = compileRoutes();

  const server = http.createServer(async (request, response) => {
    try {
      let path: string;
      try {
        path = new URL(request.url ?? "/", "http://local").pathname;
      } catch {
        // A request-target no URL parser accepts (e.g. `//[`): API Gateway refuses those too.
        response.writeHead(400, { "Content-Type": "application/json" });
        response.end(JSON.stringify(errorBody("VALIDATION_FAILED", "the request path is not a valid URL path")));
        return;
      }
      const matched = match(request.method ?? "", path);
      const route = ROUTES.find((r) => r.method === request.method && r.resource === matched?.resource);
      let authorizer: Record<string, string> | null = null;
      // What API Gateway and the REST authorizer do before a guarded route's handler runs.
      if (route !== undefined && route.scope !== null) {
        const principal = verifyToken(bearerToken(request.headers.authorization), tokenRecords);
        if (principal === undefined) {
          response.writeHead(401, { "Content-Type": "application/json" });
          response.end(
            JSON.stringify(errorBody("UNAUTHENTICATED", "send a valid token: Authorization: Bearer <token>")),
          );
          return;
        }
        authorizer = principalContext(principal);
      }
      const event = await toProxyEvent(request, matched, { authorizer });
      writeProxyResult(response, await handler(event));
    } catch (error) {
      if (error instanceof RangeError) return tooLarge(response);
      response.destroy(error as Error);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dynamoEndpoint,
    tableName,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      client.destroy();
      await dynamo?.stop();
    },
  };
}
