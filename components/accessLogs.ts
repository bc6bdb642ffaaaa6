import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/**
 * One JSON object per request, every value quoted: API Gateway writes `-` for a variable without a
 * value (no authorizer, no integration), which would break an unquoted number. Only variables that
 * cannot carry a credential: never a query string (a WebSocket client sends its token as
 * `?token=`), no headers, no request or response override, no authorizer context but the
 * principal id (the token's id, never the token). The REST line has the request's path (without
 * its query string): the flag a read names, for its `read` audit line (handlers/audit/reads.ts).
 */
const jsonFormat = (fields: Record<string, string>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(fields).map(([key, variable]) => [key, `$context.${variable}`])));

/** The REST stage's access log line ($context variables of REST APIs). */
export const REST_ACCESS_LOG_FORMAT = jsonFormat({
  requestId: "requestId",
  extendedRequestId: "extendedRequestId",
  xrayTraceId: "xrayTraceId",
  requestTime: "requestTimeEpoch",
  sourceIp: "identity.sourceIp",
  principalId: "authorizer.principalId",
  method: "httpMethod",
  // The route's template (`/flags/{flagName}`) and the stage's path (`/v1/flags/new-checkout`):
  // neither has the query string.
  resourcePath: "resourcePath",
  path: "path",
  status: "status",
  responseLatency: "responseLatency",
  integrationLatency: "integrationLatency",
  integrationStatus: "integrationStatus",
  responseLength: "responseLength",
  errorType: "error.responseType",
});

/** The WebSocket stage's access log line ($context variables of WebSocket APIs). */
export const WEBSOCKET_ACCESS_LOG_FORMAT = jsonFormat({
  requestId: "requestId",
  extendedRequestId: "extendedRequestId",
  requestTime: "requestTimeEpoch",
  sourceIp: "identity.sourceIp",
  principalId: "authorizer.principalId",
  connectionId: "connectionId",
  eventType: "eventType",
  // `$connect`, `$disconnect`, `$default`: the handshake's URL (and its `?token=`) is never logged.
  routeKey: "routeKey",
  status: "status",
  integrationLatency: "integrationLatency",
  integrationStatus: "integrationStatus",
  authorizerLatency: "authorizer.latency",
  errorType: "error.responseType",
});

/** A stage's access log group, with the stack's retention. */
export function accessLogGroup(
  name: string,
  retentionInDays: number,
  parent: pulumi.Resource,
): aws.cloudwatch.LogGroup {
  return new aws.cloudwatch.LogGroup(name, { retentionInDays }, { parent });
}

/**
 * The log group API Gateway writes a stage's execution logs to, created first with the stack's
 * retention: left to API Gateway, it would create it on the first log line, kept forever.
 * REST: `API-Gateway-Execution-Logs_{rest-api-id}/{stage}`; WebSocket: `/aws/apigateway/{api-id}/{stage}`.
 */
export function executionLogGroup(
  name: string,
  logGroupName: pulumi.Input<string>,
  retentionInDays: number,
  parent: pulumi.Resource,
): aws.cloudwatch.LogGroup {
  return new aws.cloudwatch.LogGroup(name, { name: logGroupName, retentionInDays }, { parent });
}
