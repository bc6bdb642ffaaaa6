import type { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { type ErrorCode, isServiceError, serviceError } from "./errors";

/** What a route handler sees of a request, independent of API Gateway's event shape. */
export interface ApiRequest {
  /** Path parameters, percent-decoded exactly once. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Header lookup, case-insensitive as HTTP headers are. */
  header(name: string): string | undefined;
  /** The raw body text (base64 already decoded), or undefined when there is none. */
  readonly body: string | undefined;
  /** The id of the token that made the request; null until authentication identifies one. */
  readonly actor: string | null;
}

export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: ApiRequest) => Promise<ApiResponse>;

/** The slice of a Powertools Logger the HTTP layer uses. */
export type RequestLogger = Pick<Logger, "warn" | "error">;

/**
 * Largest request body accepted. A flag's value may serialize to 32 KiB; JSON escaping and the
 * description need headroom, and anything bigger is refused before it is parsed.
 */
export const MAX_BODY_BYTES = 64 * 1024;

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/** Parses a JSON request body, mapping every way it can be wrong to a 4xx. */
export function parseJsonBody(request: ApiRequest): unknown {
  const { body } = request;
  if (body === undefined || body.length === 0) {
    throw serviceError("INVALID_JSON", "request body must be a JSON object");
  }
  if (Buffer.byteLength(body, "utf8") > MAX_BODY_BYTES) {
    throw serviceError("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(body);
  } catch (cause) {
    throw serviceError("INVALID_JSON", "request body is not valid JSON", { cause });
  }
}

/**
 * Decodes a path segment once. API Gateway REST APIs pass path parameters still percent-encoded
 * in some cases; valid flag names never contain '%', so decoding once more is safe either way.
 */
export function decodePathParameter(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (cause) {
    throw serviceError("VALIDATION_FAILED", "path contains malformed percent-encoding", { cause });
  }
}

function headerLookup(headers: APIGatewayProxyEvent["headers"]): (name: string) => string | undefined {
  const lower = new Map<string, string>();
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) lower.set(key.toLowerCase(), value);
  }
  return (name) => lower.get(name.toLowerCase());
}

function actorOf(event: APIGatewayProxyEvent): string | null {
  const tokenId = event.requestContext?.authorizer?.tokenId;
  return typeof tokenId === "string" && tokenId.length > 0 ? tokenId : null;
}

function toRequest(event: APIGatewayProxyEvent): ApiRequest {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.pathParameters ?? {})) {
    if (value !== undefined) params[key] = decodePathParameter(value);
  }
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[key] = value;
  }
  const body =
    event.body === null || event.body === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  return { params, query, header: headerLookup(event.headers), body, actor: actorOf(event) };
}

function toResult(response: ApiResponse): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...response.headers };
  if (response.body === undefined) return { statusCode: response.status, headers, body: "" };
  headers["Content-Type"] = "application/json";
  return { statusCode: response.status, headers, body: JSON.stringify(response.body) };
}

/** `METHOD resource`, the key routes are looked up by, e.g. `GET /flags/{flagName}`. */
export const routeKey = (method: string, resource: string): string => `${method.toUpperCase()} ${resource}`;

/**
 * Builds the Lambda proxy handler for a set of routes. Every failure becomes the contract's error
 * body: a ServiceError is the client's doing and logs at WARN; anything else is a fault, logs at
 * ERROR (which is what the error alarm counts) and answers 500 without internals.
 */
export function makeProxyHandler(
  routes: Readonly<Record<string, RouteHandler>>,
  logger: RequestLogger,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    const route = routes[routeKey(event.httpMethod ?? "", event.resource ?? "")];
    try {
      if (route === undefined) {
        throw serviceError("ROUTE_NOT_FOUND", `no route for ${event.httpMethod} ${event.path}`);
      }
      return toResult(await route(toRequest(event)));
    } catch (error) {
      if (isServiceError(error)) {
        logger.warn("request refused", { code: error.code, status: error.status, path: event.path });
        return toResult({ status: error.status, body: errorBody(error.code, error.message) });
      }
      logger.error("request failed", { path: event.path, method: event.httpMethod, error: error as Error });
      return toResult({ status: 500, body: errorBody("INTERNAL", "internal error") });
    }
  };
}
