import { CONSOLE_CACHE } from "../console/csp";
import { CORS_EXPOSED_HEADERS } from "../handlers/http";
import { isStreamed, ROUTES, type RouteGroup } from "../handlers/routes";

/**
 * Where a gateway response's `Access-Control-Allow-Origin` comes from, for API Gateway's own
 * refusals (no token, unknown route, throttled, too large), which no handler sees. Gateway
 * responses take static values or request parameters only (their templates are not VTL), so they
 * cannot compare the Origin with a list. One allowed origin: named statically. Several: the
 * request's own Origin is echoed, whatever it is. That is safe because a gateway response's body
 * is a fixed refusal that carries no data (no flag, no token, nothing a page could not learn from
 * the failed request itself), and it is what lets a page on an allowed origin read the 401 or 429
 * instead of an opaque network error. Handler responses stay strict: only listed origins.
 */
export function gatewayCorsOrigin(corsOrigins: readonly string[]): string | undefined {
  if (corsOrigins.length === 0) return undefined;
  return corsOrigins.length === 1 ? `'${corsOrigins[0]}'` : "method.request.header.Origin";
}

/** A gateway response in the contract's error shape, for failures API Gateway answers itself. */
function gatewayResponse(
  status: number | undefined,
  code: string,
  message: string,
  allowOrigin: string | undefined,
  headers: Readonly<Record<string, string>> = {},
) {
  const template = JSON.stringify({ error: { code, message } })
    // messageString is already a quoted JSON string.
    .replace('"$MESSAGE"', "$context.error.messageString");
  const parameters: Record<string, string> = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [`gatewayresponse.header.${name}`, `'${value}'`]),
  );
  if (allowOrigin !== undefined) {
    parameters["gatewayresponse.header.Access-Control-Allow-Origin"] = allowOrigin;
    parameters["gatewayresponse.header.Access-Control-Expose-Headers"] = `'${CORS_EXPOSED_HEADERS.join(", ")}'`;
    parameters["gatewayresponse.header.Vary"] = "'Origin'";
  }
  return {
    ...(status === undefined ? {} : { statusCode: String(status) }),
    responseTemplates: { "application/json": template },
    ...(Object.keys(parameters).length === 0 ? {} : { responseParameters: parameters }),
  };
}

export interface RestApiSpecArgs {
  title: string;
  /** Lambda invoke ARN of the function serving each route group. */
  integrations: Readonly<Record<RouteGroup, string>>;
  /** Lambda invoke ARN of the REQUEST authorizer guarding every route that needs a scope. */
  authorizerUri: string;
  /** How long API Gateway caches an authorizer result per Authorization header. */
  authorizerTtlSeconds: number;
  /** Origins allowed by CORS (see `gatewayCorsOrigin` for the gateway's own error responses). */
  corsOrigins: readonly string[];
  /** Serve the web console from S3 at `/console/`; absent: no console routes. */
  console?: ConsoleRoutesArgs;
}

export interface ConsoleRoutesArgs {
  /** Bucket holding the console's files under `console/`. */
  bucket: string;
  /** Role API Gateway assumes to read them. */
  roleArn: string;
  region: string;
  /** Content-Security-Policy sent with every console file. */
  csp: string;
}

/** A static header value in an integration response: API Gateway takes what is inside the outer quotes. */
const staticValue = (value: string) => `'${value}'`;

/**
 * The console's routes: GETs that API Gateway answers from S3 with its own role, no authorizer
 * (static files need no token; every data call the console makes goes through the guarded
 * routes). `/console` and `/console/` are one resource for API Gateway: both serve the page.
 */
export function consoleRoutes({
  bucket,
  roleArn,
  region,
  csp,
}: ConsoleRoutesArgs): Record<string, Record<string, unknown>> {
  const headers = ["Content-Type", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options"];
  /** A refusal in the contract's error body, never cached (the next request may find S3 well). */
  const refusal = (statusCode: string, code: string, message: string) => ({
    statusCode,
    responseParameters: {
      "method.response.header.Content-Type": staticValue("application/json"),
      "method.response.header.Cache-Control": staticValue("no-store"),
      "method.response.header.Content-Security-Policy": staticValue(csp),
      "method.response.header.X-Content-Type-Options": staticValue("nosniff"),
    },
    responseTemplates: { "application/json": JSON.stringify({ error: { code, message } }) },
  });
  const route = (key: string, cache: string, parameters: Array<{ name: string; in: string }> = []) => ({
    get: {
      operationId: `get_console_${key.replace(/[^A-Za-z]+/g, "_")}`,
      parameters: parameters.map((p) => ({ ...p, required: true, schema: { type: "string" } })),
      security: [],
      responses: Object.fromEntries(
        ["200", "404", "503"].map((status) => [
          status,
          { description: status, headers: Object.fromEntries(headers.map((h) => [h, { schema: { type: "string" } }])) },
        ]),
      ),
      "x-amazon-apigateway-integration": {
        type: "aws",
        httpMethod: "GET",
        uri: `arn:aws:apigateway:${region}:s3:path/${bucket}/console/${key}`,
        credentials: roleArn,
        passthroughBehavior: "when_no_match",
        ...(parameters.length === 0
          ? {}
          : {
              requestParameters: Object.fromEntries(
                parameters.map((p) => [`integration.request.path.${p.name}`, `method.request.path.${p.name}`]),
              ),
            }),
        // Each key is a selectionPattern, matched against S3's HTTP status code for an AWS
        // integration; `default` is the response of no pattern (it has no selectionPattern).
        responses: {
          // S3 answers 403 for a key that does not exist when the reader may not list the bucket.
          "4\\d{2}": refusal("404", "ROUTE_NOT_FOUND", "no such console file"),
          // Anything else S3 answers (a 500 or 503, a redirect) is S3's failure, not a file: an
          // uncached 503, never a 200 that a browser would keep for a year.
          default: refusal("503", "DEPENDENCY_UNAVAILABLE", "the console's files cannot be read; retry"),
          "2\\d{2}": {
            statusCode: "200",
            responseParameters: {
              "method.response.header.Content-Type": "integration.response.header.Content-Type",
              "method.response.header.Cache-Control": staticValue(cache),
              "method.response.header.Content-Security-Policy": staticValue(csp),
              "method.response.header.X-Content-Type-Options": staticValue("nosniff"),
            },
          },
        },
      },
    },
  });
  // Every path of the API answers a preflight; the console's files are read by the console's own
  // page (same origin) only, so theirs allows nothing: a 204 without CORS headers, answered by API
  // Gateway itself.
  const preflight = (key: string, parameters: Array<{ name: string; in: string }> = []) => ({
    options: {
      operationId: `options_console_${key.replace(/[^A-Za-z]+/g, "_")}`,
      parameters: parameters.map((p) => ({ ...p, required: true, schema: { type: "string" } })),
      security: [],
      responses: { "204": { description: "204" } },
      "x-amazon-apigateway-integration": {
        type: "mock",
        passthroughBehavior: "when_no_match",
        requestTemplates: { "application/json": JSON.stringify({ statusCode: 204 }) },
        responses: { default: { statusCode: "204" } },
      },
    },
  });
  const file = [{ name: "file", in: "path" }];
  return {
    "/console": { ...route("index.html", CONSOLE_CACHE.page), ...preflight("index.html") },
    "/console/config.json": { ...route("config.json", CONSOLE_CACHE.page), ...preflight("config.json") },
    "/console/assets/{file}": {
      ...route("assets/{file}", CONSOLE_CACHE.asset, file),
      ...preflight("assets/{file}", file),
    },
  };
}

/**
 * API Gateway waits this long for a streamed integration: the most it allows with
 * `responseTransferMode: STREAM` (15 minutes, as a Lambda invocation), above the stream's own end.
 */
export const STREAM_TIMEOUT_MS = 900_000;

/**
 * The integration URI that has API Gateway call Lambda's InvokeWithResponseStream
 * (`/2021-11-15/functions/{arn}/response-streaming-invocations`) instead of Invoke, from the
 * function's invoke ARN (`/2015-03-31/functions/{arn}/invocations`).
 */
export function streamingInvokeUri(invokeArn: string): string {
  const match = /^(arn:[^:]+:apigateway:[^:]+:lambda:path)\/2015-03-31\/functions\/(.+)\/invocations$/.exec(invokeArn);
  if (match === null) throw new Error(`not a Lambda invoke ARN: ${invokeArn}`);
  return `${match[1]}/2021-11-15/functions/${match[2]}/response-streaming-invocations`;
}

const UNAUTHENTICATED_MESSAGE = "send a valid token: Authorization: Bearer <token>";

/** Name of the security scheme (the authorizer) in the document. */
export const AUTHORIZER_NAME = "bearer-token";

/**
 * The REST API as an OpenAPI 3 document with API Gateway extensions, generated from the route
 * catalogue the local runtime also serves. One document means one deployment trigger (its hash)
 * and no per-method resources to wire in the right order.
 */
export function restApiSpec({
  title,
  integrations,
  authorizerUri,
  authorizerTtlSeconds,
  corsOrigins,
  console,
}: RestApiSpecArgs): Record<string, unknown> {
  const corsOrigin = gatewayCorsOrigin(corsOrigins);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const parameters = [...route.resource.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    paths[route.resource] ??= {};
    paths[route.resource][route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${route.resource.replace(/[^A-Za-z]+/g, "_")}`,
      parameters,
      responses: {},
      security: route.scope === null ? [] : [{ [AUTHORIZER_NAME]: [] }],
      "x-amazon-apigateway-integration": {
        type: "aws_proxy",
        httpMethod: "POST",
        passthroughBehavior: "when_no_match",
        // A streamed route (the OFREP event stream) is sent to the client as the function writes
        // it, for up to 15 minutes (API Gateway's response streaming, Lambda proxy integrations).
        ...(isStreamed(route.group) && route.method !== "OPTIONS"
          ? {
              uri: streamingInvokeUri(integrations[route.group]),
              responseTransferMode: "STREAM",
              timeoutInMillis: STREAM_TIMEOUT_MS,
            }
          : { uri: integrations[route.group] }),
      },
    };
  }
  if (console !== undefined) Object.assign(paths, consoleRoutes(console));
  return {
    openapi: "3.0.1",
    info: { title, version: "1" },
    paths,
    components: {
      securitySchemes: {
        [AUTHORIZER_NAME]: {
          type: "apiKey",
          name: "Authorization",
          in: "header",
          "x-amazon-apigateway-authtype": "custom",
          "x-amazon-apigateway-authorizer": {
            type: "request",
            // No Authorization header: API Gateway answers 401 itself, without invoking the authorizer.
            identitySource: "method.request.header.Authorization",
            authorizerUri,
            authorizerResultTtlInSeconds: authorizerTtlSeconds,
          },
        },
      },
    },
    "x-amazon-apigateway-gateway-responses": {
      // API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
      MISSING_AUTHENTICATION_TOKEN: gatewayResponse(404, "ROUTE_NOT_FOUND", "no such route", corsOrigin),
      // No Authorization header: API Gateway refuses it without invoking the authorizer.
      UNAUTHORIZED: gatewayResponse(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, corsOrigin),
      // A malformed or unknown token: the authorizer answers with a Deny policy (rather than
      // throwing "Unauthorized", which Lambda logs at ERROR and counts as a function error). The
      // API has no resource policy and allowed tokens get the whole stage, so a Deny is the only
      // source of ACCESS_DENIED; scopes are enforced by the handlers (403 FORBIDDEN).
      ACCESS_DENIED: gatewayResponse(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, corsOrigin),
      // The stage's throttle is a token bucket refilled every second.
      THROTTLED: gatewayResponse(429, "THROTTLED", "too many requests; retry with backoff", corsOrigin, {
        "Retry-After": "1",
      }),
      REQUEST_TOO_LARGE: gatewayResponse(413, "PAYLOAD_TOO_LARGE", "$MESSAGE", corsOrigin),
      // No status on the defaults: each keeps the status API Gateway chose. The contract has no
      // code for the rarer gateway refusals (e.g. a malformed request line), so BAD_REQUEST.
      DEFAULT_4XX: gatewayResponse(undefined, "BAD_REQUEST", "$MESSAGE", corsOrigin),
      DEFAULT_5XX: gatewayResponse(undefined, "INTERNAL", "internal error", corsOrigin),
    },
  };
}
