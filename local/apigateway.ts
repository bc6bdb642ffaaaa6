import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { errorBody, MAX_BODY_BYTES } from "../handlers/http";
import { type Route, ROUTES } from "../handlers/routes";

/**
 * Largest body the local server reads before refusing with 413. Above the handlers' own limit so
 * that they, as on AWS, are what refuses a merely too-large flag.
 */
const MAX_READ_BYTES = 4 * MAX_BODY_BYTES;

/** A request matched to a route of the catalogue, with its path parameters (still encoded). */
export interface RouteMatch {
  route: Route;
  resource: string;
  params: Record<string, string>;
}

/** Matches paths against the route catalogue the way API Gateway resources do. */
export function compileRoutes(): (method: string, rawPath: string) => RouteMatch | undefined {
  const compiled = ROUTES.map((route) => {
    const params: string[] = [];
    const source = route.resource.replace(/\{([^}]+)\}/g, (_, name: string) => {
      params.push(name);
      return "([^/]+)";
    });
    return { route, pattern: new RegExp(`^${source}/?$`), params };
  });
  return (method, rawPath) => {
    for (const { route, pattern, params } of compiled) {
      const found = route.method === method ? pattern.exec(rawPath) : null;
      if (found !== null) {
        return {
          route,
          resource: route.resource,
          params: Object.fromEntries(params.map((name, i) => [name, found[i + 1]])),
        };
      }
    }
    return undefined;
  };
}

/** Stateless (no `stream` option): one for every request. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body as API Gateway passes it: text, or base64 (`isBase64Encoded`) when the bytes are not
 * UTF-8 — so the handler refuses them instead of reading U+FFFD where they were.
 */
async function readBody(request: IncomingMessage): Promise<{ body: string | null; isBase64Encoded: boolean }> {
  // Neither Content-Length nor Transfer-Encoding: the request has no body (RFC 9112 §6.3), and
  // most (GETs) have none; Node discards the empty stream once the response is sent.
  if (request.headers["content-length"] === undefined && request.headers["transfer-encoding"] === undefined) {
    return { body: null, isBase64Encoded: false };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_READ_BYTES) throw new RangeError("body too large");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { body: null, isBase64Encoded: false };
  const bytes = Buffer.concat(chunks);
  try {
    return { body: UTF8.decode(bytes), isBase64Encoded: false };
  } catch {
    return { body: bytes.toString("base64"), isBase64Encoded: true };
  }
}

export interface ProxyEventContext {
  /** Authorizer context API Gateway would pass (the token id once auth identifies one). */
  authorizer: Record<string, string> | null;
  /** The request's URL, when the caller has parsed it already. */
  url?: URL;
}

/**
 * Turns a Node HTTP request into the API Gateway REST proxy event Lambda would receive. Path
 * parameters stay percent-encoded; the handlers decode them, as they must on AWS too.
 */
export async function toProxyEvent(
  request: IncomingMessage,
  match: RouteMatch | undefined,
  context: ProxyEventContext,
): Promise<APIGatewayProxyEvent> {
  const url = context.url ?? new URL(request.url ?? "/", "http://local");
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    multiQuery[key] = [...(multiQuery[key] ?? []), value];
  }
  const headers: Record<string, string> = {};
  const multiHeaders: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[key] = values.join(",");
    multiHeaders[key] = values;
  }
  const { body, isBase64Encoded } = await readBody(request);
  return {
    resource: match?.resource ?? "",
    path: url.pathname,
    httpMethod: request.method ?? "GET",
    headers,
    multiValueHeaders: multiHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: match === undefined || Object.keys(match.params).length === 0 ? null : match.params,
    stageVariables: null,
    body,
    isBase64Encoded,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: context.authorizer,
      httpMethod: request.method ?? "GET",
      identity: { sourceIp: request.socket.remoteAddress ?? "127.0.0.1" },
      path: url.pathname,
      protocol: `HTTP/${request.httpVersion}`,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: "local",
      resourcePath: match?.resource ?? "",
      stage: "local",
    } as APIGatewayProxyEvent["requestContext"],
  };
}

export function writeProxyResult(response: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) headers[key] = String(value);
  response.writeHead(result.statusCode, headers);
  response.end(result.isBase64Encoded ? Buffer.from(result.body, "base64") : result.body);
}

/** The answer when the local server itself refuses a request body, as WAF would (`headers`: CORS). */
export function tooLarge(response: ServerResponse, headers: Readonly<Record<string, string>> = {}): void {
  // The rest of the body is never read, so the connection cannot carry another request.
  response.writeHead(413, { "Content-Type": "application/json", Connection: "close", ...headers });
  response.end(JSON.stringify(errorBody("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_READ_BYTES} bytes`)));
}
