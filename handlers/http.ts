import type { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { isLosslessNumber, parse as parseLossless, splitNumber } from "lossless-json";
import { grants, type Principal, principalFromContext, type Scope } from "./auth/tokens";
import { type ErrorCode, isServiceError, type ServiceError, serviceError } from "./errors";
import { methodsOf, ROUTES } from "./routes";

/** What a route handler sees of a request, independent of API Gateway's event shape. */
export interface ApiRequest {
  /** Path parameters, percent-decoded exactly once. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Header lookup, case-insensitive as HTTP headers are. */
  header(name: string): string | undefined;
  /** The raw body text (base64 already decoded), or undefined when there is none. */
  readonly body: string | undefined;
  /** The id of the token that made the request; null on routes that need none (`/health`). */
  readonly actor: string | null;
  /** That token's scopes; empty on routes that need none. A client key has `evaluate` only. */
  readonly scopes: readonly Scope[];
  /**
   * What precedes the API's own paths in the URL the client used: `/dev` on API Gateway's default
   * endpoint (the stage), `` on a custom domain or locally. For building `Location`.
   */
  readonly basePath: string;
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

/**
 * Deepest nesting of `[` and `{` a request body may have. Every body the contract describes nests
 * far less (a flag's value and definition at most 32 levels); what runs after the parse — zod,
 * flagd-core's schema check and json-logic-engine's compiler — recurses once or more per level,
 * and an evaluator 1,200 levels deep overflowed the stack inside flagd-core (a 500).
 */
export const MAX_BODY_DEPTH = 64;

/**
 * Largest a body may grow to once parsed and written out again, as the stores write it. Numbers
 * are kept as JSON.stringify writes them, so `1e20` (4 bytes) is stored as 21 digits: without this
 * bound a 64 KiB body of such numbers stores about 290 KB, close to DynamoDB's 400 KB item limit.
 */
export const MAX_STORED_BYTES = 2 * MAX_BODY_BYTES;

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/**
 * Parses a JSON request body, mapping every way it can be wrong to a 4xx. The cheap checks come
 * first, on the raw text: size, then nesting depth, so nothing that recurses ever sees a body it
 * could overflow on.
 */
export function parseJsonBody(request: ApiRequest): unknown {
  const { body } = request;
  if (body === undefined || body.length === 0) {
    throw serviceError("INVALID_JSON", "request body must be a JSON object");
  }
  if (Buffer.byteLength(body, "utf8") > MAX_BODY_BYTES) {
    throw serviceError("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  checkTextDepth(body, MAX_BODY_DEPTH);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw serviceError("INVALID_JSON", "request body is not valid JSON", { cause });
  }
  checkNumbersExact(body);
  checkKeys(parsed);
  const stored = Buffer.byteLength(JSON.stringify(parsed), "utf8");
  if (stored > MAX_STORED_BYTES) {
    throw serviceError(
      "PAYLOAD_TOO_LARGE",
      `request body grows to ${stored} bytes once its numbers are written out (1e20 is stored as 21 digits); ` +
        `the limit is ${MAX_STORED_BYTES}`,
    );
  }
  return parsed;
}

/**
 * Refuses JSON text whose `[` and `{` nest deeper than `limit`, naming the character offset where
 * it does. A single pass over the characters that skips string contents (so `"[[["` counts for
 * nothing): it cannot overflow, and it runs before the parse, whatever the text holds. Invalid
 * JSON passes through unchanged to be refused by the parser.
 */
export function checkTextDepth(text: string, limit: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > limit) {
        throw serviceError(
          "VALIDATION_FAILED",
          `body: nests deeper than ${limit} levels of [ and { (at character ${i}); no request needs that many`,
        );
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
}

/**
 * Refuses an object key that names a property every JavaScript object inherits (`__proto__`,
 * `constructor`, `toString`, `hasOwnProperty`, `valueOf`, `__defineGetter__`, …), naming where it
 * is. JSON.parse and lossless-json keep such a key as an own property, but the code a body meets
 * afterwards does not always: json-logic-engine looks operators up on a plain object, so
 * `{"__defineGetter__": [1]}` ran `Object.prototype.__defineGetter__` at write time and its
 * rejected promise killed the local runtime; `Object.assign` (flagd-core merges metadata with it)
 * turns a `__proto__` key into a prototype. No flag, evaluator or context needs these names.
 */
export function checkKeys(tree: unknown): void {
  const pending: Array<[unknown, Array<string | number>]> = [[tree, []]];
  while (pending.length > 0) {
    const [node, path] = pending.pop() as [unknown, Array<string | number>];
    if (Array.isArray(node)) {
      node.forEach((child, i) => pending.push([child, [...path, i]]));
    } else if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (Object.hasOwn(Object.prototype, key)) {
          throw serviceError(
            "VALIDATION_FAILED",
            `${[...path, key].join(".")}: '${key}' cannot be a key: every JavaScript object inherits a property of that name`,
          );
        }
        pending.push([child, [...path, key]]);
      }
    }
  }
}

/**
 * Whether the JSON text JSON.stringify writes for this number has the same digits and magnitude
 * as `source` (`1.0`, `1e2`, `9007199254740992` do; `1e400`, `1e-400`, `9007199254740993` do not).
 */
export function keptExactly(source: string): boolean {
  const parsed = Number(source);
  if (!Number.isFinite(parsed)) return false;
  const written = splitNumber(String(parsed));
  const given = splitNumber(source);
  return written.digits === given.digits && (written.digits === "0" || written.exponent === given.exponent);
}

/**
 * Refuses a number that a double cannot hold digit for digit (`1e400` would become `null`,
 * `12345678901234567890123` would come back rounded), naming where it is. JSON.parse cannot tell
 * (its reviver's `context.source` exists only from Node 22), so lossless-json reads the text a
 * second time, keeping each number's source digits. Bodies are at most 64 KiB.
 */
function checkNumbersExact(body: string): void {
  // Most bodies hold no number long enough to lose digits: skip the second parse for them.
  if (!/[0-9][0-9.]{15}|[eE][+-]?[0-9]{3}/.test(body)) return;
  // Like JSON.parse, the last of a repeated key wins.
  const tree = parseLossless(body, null, { onDuplicateKey: ({ newValue }) => newValue });
  const pending: Array<[unknown, Array<string | number>]> = [[tree, []]];
  while (pending.length > 0) {
    const [node, path] = pending.pop() as [unknown, Array<string | number>];
    if (isLosslessNumber(node)) {
      if (!keptExactly(node.value)) {
        throw serviceError(
          "VALIDATION_FAILED",
          `${path.length > 0 ? path.join(".") : "body"}: the number ${node.value.slice(0, 40)} cannot be stored exactly ` +
            "(beyond double precision); send it as a string",
        );
      }
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => pending.push([child, [...path, i]]));
    } else if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) pending.push([child, [...path, key]]);
    }
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

/**
 * Checks the scope the route needs against the principal the authorizer passed on. A route that
 * needs a scope but arrives without a principal is refused too, so a misconfigured API (say, an
 * authorizer left off a method) fails closed.
 */
function authorize(event: APIGatewayProxyEvent): Principal | null {
  const route = ROUTES.find((r) => r.method === event.httpMethod && r.resource === event.resource);
  const principal = principalFromContext(event.requestContext?.authorizer);
  if (route === undefined || route.scope === null) return principal ?? null;
  if (principal === undefined) {
    throw serviceError("UNAUTHENTICATED", "send a token: Authorization: Bearer <token>");
  }
  if (!grants(principal.scopes, route.scope)) {
    throw serviceError("FORBIDDEN", `token '${principal.tokenId}' lacks the '${route.scope}' scope`);
  }
  return principal;
}

/** `requestContext.path` is the path as requested (with the stage); `path` is without it. */
function basePathOf(event: APIGatewayProxyEvent): string {
  const requested = event.requestContext?.path;
  if (typeof requested !== "string" || !requested.endsWith(event.path)) return "";
  return requested.slice(0, requested.length - event.path.length);
}

/** Bytes as text, refusing what is not UTF-8 rather than storing U+FFFD in its place. */
function decodeUtf8(bytes: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw serviceError("INVALID_JSON", "request body is not valid UTF-8", { cause });
  }
}

function toRequest(event: APIGatewayProxyEvent, principal: Principal | null): ApiRequest {
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
        ? decodeUtf8(Buffer.from(event.body, "base64"))
        : event.body;
  return {
    params,
    query,
    header: headerLookup(event.headers),
    body,
    actor: principal?.tokenId ?? null,
    scopes: principal?.scopes ?? [],
    basePath: basePathOf(event),
  };
}

function toResult(response: ApiResponse, extraHeaders: Record<string, string>): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...extraHeaders, ...response.headers };
  if (response.body === undefined) return { statusCode: response.status, headers, body: "" };
  headers["Content-Type"] = "application/json";
  return { statusCode: response.status, headers, body: JSON.stringify(response.body) };
}

/** `METHOD resource`, the key routes are looked up by, e.g. `GET /flags/{flagName}`. */
export const routeKey = (method: string, resource: string): string => `${method.toUpperCase()} ${resource}`;

export interface ProxyHandlerOptions {
  /** Origins allowed by CORS; empty or absent means CORS is off (no CORS headers at all). */
  corsOrigins?: readonly string[];
}

/**
 * Request headers a browser may send cross-origin: the token, JSON bodies, the conditional
 * headers of writes (If-Match) and of OFREP polls (If-None-Match, sent by the OFREP web provider
 * once it holds an ETag), and Last-Event-ID, which EventSource sends when it reconnects a stream.
 */
export const CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Last-Event-ID"];

/**
 * Response headers a page may read beyond the CORS-safelisted ones: ETag (OFREP's 304s, If-Match),
 * Location (a created flag) and Retry-After, which the OFREP web provider honours on a 429 or 503.
 */
export const CORS_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After"];

/**
 * Requests per source IP per minute the OFREP routes admit before answering 429 THROTTLED, on AWS
 * (a WAF rate-based rule) and locally (a limiter). A tab of the OFREP web provider polls twice a
 * minute (or holds one event stream), so 1,000 leaves room for hundreds of tabs behind one NAT,
 * while one address alone cannot use up more than a sixth of the stage's 100 requests per second.
 */
export const DEFAULT_OFREP_RATE_LIMIT = 1000;

/**
 * CORS headers for a response to `origin`: only an exactly listed origin gets any. Every response
 * carries the origin and the exposed headers; a preflight (`preflightFor`: the resource the
 * OPTIONS request matched) names that path's methods and the allowed request headers instead.
 */
export function corsHeaders(
  origin: string | undefined,
  allowed: readonly string[],
  preflightFor?: string,
): Record<string, string> {
  if (origin === undefined || !allowed.includes(origin)) return {};
  if (preflightFor === undefined) {
    return {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Expose-Headers": CORS_EXPOSED_HEADERS.join(", "),
      Vary: "Origin",
    };
  }
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Methods": methodsOf(preflightFor).join(", "),
    "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(", "),
    "Access-Control-Max-Age": "600",
    Vary: "Origin",
  };
}

// Plain arrays, not Sets: Pulumi serializes module-level values into the Lambda's code by value.
const NETWORK_ERRORS = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"];
const UNAVAILABLE_ERRORS = [
  "TimeoutError",
  "ServiceUnavailable",
  "InternalServerError",
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
];

/**
 * Whether an AWS SDK error means the dependency (DynamoDB, SSM) could not serve the request — down,
 * unreachable, overloaded — rather than a bug here: a 503 the client can retry, not a 500.
 */
export function isDependencyFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, $metadata } = error as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    (code !== undefined && NETWORK_ERRORS.includes(code)) ||
    UNAVAILABLE_ERRORS.includes(error.name) ||
    ($metadata?.httpStatusCode ?? 0) >= 500
  );
}

/**
 * DynamoDB's refusal of a write over one of its limits — an item over 400 KB, a transaction of
 * more than 100 actions or 4 MB — as the client's 400 naming the limit; undefined for any other
 * error. The request checks are meant to refuse such input before it is written (a flag names at
 * most 8 evaluators, BOUNDS.refsPerFlag; a body stores at most MAX_STORED_BYTES); this keeps what they
 * cannot see, such as an update that releases the references of a flag stored under looser bounds,
 * from being a 500. Follows `cause`, so a store that wraps the SDK's error is covered too.
 */
export function dynamoLimitRefusal(error: unknown): ServiceError | undefined {
  const limitOf = (message: string): string | undefined => {
    if (/item size (to update )?has exceeded the maximum allowed size/i.test(message)) {
      return "an item would exceed DynamoDB's 400 KB item size limit";
    }
    if (/member must have length less than or equal to 100\b/i.test(message)) {
      return "it needs more than the 100 actions one DynamoDB transaction holds (one per evaluator a flag gains or loses)";
    }
    if (/transaction (payload|request) size/i.test(message)) {
      return "it would exceed DynamoDB's 4 MB transaction size limit";
    }
    return undefined;
  };
  let current: unknown = error;
  for (let hops = 0; hops < 5 && current instanceof Error; hops++, current = current.cause) {
    const messages =
      current.name === "ValidationException"
        ? [current.message]
        : current.name === "TransactionCanceledException"
          ? (
              (current as Error & { CancellationReasons?: Array<{ Code?: string; Message?: string }> })
                .CancellationReasons ?? []
            )
              .filter((reason) => reason.Code === "ValidationError")
              .map((reason) => reason.Message ?? "")
          : [];
    for (const message of messages) {
      const limit = limitOf(message);
      if (limit !== undefined) {
        return serviceError("VALIDATION_FAILED", `the change cannot be stored: ${limit}; make it smaller`, {
          cause: error,
        });
      }
    }
  }
  return undefined;
}

/**
 * Builds the Lambda proxy handler for a set of routes. Every failure becomes the contract's error
 * body: a ServiceError (or DynamoDB refusing input over one of its limits) is the client's doing
 * and logs at WARN; anything else is a fault, logs at ERROR (which is what the error alarm counts)
 * and answers 503 when a dependency failed, else 500 without internals.
 */
export function makeProxyHandler(
  routes: Readonly<Record<string, RouteHandler>>,
  logger: RequestLogger,
  options: ProxyHandlerOptions = {},
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const corsOrigins = options.corsOrigins ?? [];
  return async (event) => {
    const preflight = event.httpMethod === "OPTIONS" && event.resource !== undefined && event.resource !== "";
    const cors = corsHeaders(
      headerLookup(event.headers)("Origin"),
      corsOrigins,
      preflight ? event.resource : undefined,
    );
    const route = routes[routeKey(event.httpMethod ?? "", event.resource ?? "")];
    try {
      // Preflight: no token (browsers send none) and no side effects.
      if (preflight) {
        return toResult({ status: 204 }, cors);
      }
      if (route === undefined) {
        throw serviceError("ROUTE_NOT_FOUND", `no route for ${event.httpMethod} ${event.path}`);
      }
      const principal = authorize(event);
      return toResult(await route(toRequest(event, principal)), cors);
    } catch (error) {
      const refused = isServiceError(error) ? error : dynamoLimitRefusal(error);
      if (refused !== undefined) {
        logger.warn("request refused", { code: refused.code, status: refused.status, path: event.path });
        return toResult({ status: refused.status, body: errorBody(refused.code, refused.message) }, cors);
      }
      logger.error("request failed", { path: event.path, method: event.httpMethod, error: error as Error });
      if (isDependencyFailure(error)) {
        return toResult(
          {
            status: 503,
            body: errorBody("DEPENDENCY_UNAVAILABLE", "the flag store is unavailable; retry shortly"),
            headers: { "Retry-After": "1" },
          },
          cors,
        );
      }
      return toResult({ status: 500, body: errorBody("INTERNAL", "internal error") }, cors);
    }
  };
}
