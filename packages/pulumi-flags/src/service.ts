/**
 * The REST calls the providers make. Everything here runs inside the dynamic provider, which
 * Pulumi serializes by value into the stack's state and runs in its own process: no module-level
 * instances, no captured clients; only global `fetch` and plain functions.
 */

/** Where a resource's service is and the token it writes with (a `write` token). */
export interface ServiceRef {
  /** The service's base URL: the stack output `apiUrl`, or `http://127.0.0.1:$PORT` locally. */
  url: string;
  /** Bearer token with the `write` scope. A Pulumi secret: encrypted in the state. */
  token: string;
}

/** A JSON object the service answered with: a flag, an evaluator, or `{"error": {code, message}}`. */
export type ServiceBody = Record<string, unknown>;

export interface ServiceResponse {
  status: number;
  /** The parsed JSON object; empty for an empty body or one that is not a JSON object. */
  body: ServiceBody;
  /** The body as text (what a proxy in front of the service may answer with). */
  text: string;
}

/** One REST call: `If-Match` when `ifMatch` is given, the body as JSON. */
export async function callService(
  service: ServiceRef,
  method: string,
  path: string,
  options: { body?: unknown; ifMatch?: number } = {},
): Promise<ServiceResponse> {
  if (typeof service?.url !== "string" || typeof service.token !== "string") {
    throw new Error("service must be {url, token}: the service's apiUrl and a token with the write scope");
  }
  const headers: Record<string, string> = { Authorization: `Bearer ${service.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.ifMatch !== undefined) headers["If-Match"] = `"${options.ifMatch}"`;
  const url = `${service.url.replace(/\/+$/, "")}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    throw new Error(`${method} ${url} failed: ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  let body: ServiceBody = {};
  try {
    const parsed: unknown = text.length > 0 ? JSON.parse(text) : undefined;
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as ServiceBody;
  } catch {
    // Not JSON: `text` keeps it for the error message.
  }
  return { status: response.status, body, text };
}

/** The error code of an error response (`{"error": {"code", "message"}}`), if it has one. */
export function errorCode(response: ServiceResponse): string | undefined {
  const code = (response.body.error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** An Error for a refused call, naming what was done, the status and the service's code and message. */
export function serviceFailure(what: string, response: ServiceResponse): Error {
  const code = errorCode(response);
  const message = (response.body.error as { message?: unknown } | undefined)?.message;
  const detail =
    code !== undefined
      ? `${code}${typeof message === "string" ? `: ${message}` : ""}`
      : response.text.length > 0
        ? response.text.slice(0, 200)
        : "no error body";
  return new Error(`${what}: the service answered ${response.status} ${detail}`);
}

/** "version 4, changed by 'alice' at 2026-12-06T04:00:00.000Z" for a flag or evaluator the service holds. */
export function describeVersion(current: { version?: unknown; updatedBy?: unknown; updatedAt?: unknown }): string {
  const who = typeof current.updatedBy === "string" ? `'${current.updatedBy}'` : "an unknown token";
  return `version ${String(current.version)}, changed by ${who} at ${String(current.updatedAt)}`;
}

/** `path` segment for a flag or evaluator name. */
export const segment = (name: string): string => encodeURIComponent(name);

/** The error for a write to something deleted outside the stack since the state last saw it. */
export const deletedOutside = (kind: "flag" | "evaluator", name: string): Error =>
  new Error(
    `${kind === "flag" ? "FLAG_NOT_FOUND" : "EVALUATOR_NOT_FOUND"}: ${kind} '${name}' was deleted outside this stack; ` +
      "run `pulumi refresh` to drop it from the stack, then `pulumi up` to create it again",
  );

/** A property `check` refuses, as the engine reports it at `pulumi preview`. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/** What a preview passes for a value not known yet (another resource's output still to be made). */
const isUnknown = (value: unknown): boolean => value === "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A flag's or evaluator's name as the service takes it (CONTRACT.md, "Flag"). */
export function checkName(property: string, value: unknown): CheckFailure[] {
  if (isUnknown(value) || (typeof value === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value))) return [];
  return [
    { property, reason: `${property} must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, not ${JSON.stringify(value)}` },
  ];
}

/** `service` must be `{url, token}` with an http(s) URL; parts not known yet pass. */
export function checkService(service: unknown): CheckFailure[] {
  if (isUnknown(service)) return [];
  if (service === null || typeof service !== "object") {
    return [{ property: "service", reason: "service must be {url, token}" }];
  }
  const { url, token } = service as { url?: unknown; token?: unknown };
  const failures: CheckFailure[] = [];
  if (!isUnknown(url) && (typeof url !== "string" || !/^https?:\/\/[^/]/.test(url))) {
    failures.push({ property: "service", reason: "service.url must be the service's http(s) base URL (apiUrl)" });
  }
  if (!isUnknown(token) && (typeof token !== "string" || token.length === 0)) {
    failures.push({ property: "service", reason: "service.token must be a token with the write scope" });
  }
  return failures;
}

/**
 * Whether two JSON values (what the engine passes: protobuf Structs as plain objects) are equal,
 * object keys in any order. Not `util.isDeepStrictEqual`: Pulumi's serializer captures `node:util`
 * as `global.sys`, Node's deprecated alias, which warns (DEP0025) in every provider process.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown) =>
    JSON.stringify(value, (_key, node: unknown) =>
      node !== null && typeof node === "object" && !Array.isArray(node)
        ? Object.fromEntries(Object.entries(node).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
        : node,
    );
  return canonical(a) === canonical(b);
}
