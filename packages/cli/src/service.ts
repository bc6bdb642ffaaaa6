import { readFile } from "node:fs/promises";
import { type FlagdDocument, asFlagdDocument } from "./document";
import { UserError } from "./errors";

/** What `PUT /flagset` answers for flags and for evaluators. */
export interface ChangeSummary {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: number;
}

export interface FlagsetSummary {
  flags: ChangeSummary;
  evaluators: ChangeSummary;
}

const names = (list: string[]): string => (list.length === 0 ? "" : ` (${list.join(", ")})`);
const describeChanges = (changes: ChangeSummary): string =>
  `${changes.created.length} created${names(changes.created)}, ${changes.updated.length} updated${names(changes.updated)}, ` +
  `${changes.deleted.length} deleted${names(changes.deleted)}, ${changes.unchanged} unchanged`;

/** `flags: 1 created (banner), 0 updated, ...; evaluators: ...` */
export const describeSummary = (summary: FlagsetSummary): string =>
  `flags ${describeChanges(summary.flags)}; evaluators ${describeChanges(summary.evaluators)}`;

/** A running service: its base URL and the bearer token to send (none: no header). */
export interface Endpoint {
  url: string;
  token: string | undefined;
}

/** Which environment variable holds the token for `--from` and for `--to`. */
export function endpoint(url: string, side: "from" | "to", env: NodeJS.ProcessEnv = process.env): Endpoint {
  const token = (side === "from" ? env.FLAGS_FROM_TOKEN : env.FLAGS_TO_TOKEN) || env.FLAGS_TOKEN || undefined;
  return { url, token };
}

/** `--from` and `--to` name a service when they are http(s) URLs; anything else is a file path. */
export const isUrl = (source: string): boolean => /^https?:\/\//i.test(source);

/** `https://flags.example.com/` and `https://flags.example.com/flagset` both mean that service's `/flagset`. */
export function flagsetUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch (error) {
    throw new UserError(`${base} is not a valid URL`, { cause: error });
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/flagset") ? path : `${path}/flagset`;
  return url.toString();
}

const REQUEST_TIMEOUT_MS = 30_000;

async function request(
  method: "GET" | "PUT",
  url: string,
  token: string | undefined,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...init.headers };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: init.body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new UserError(`${method} ${url}: cannot reach the service (${describeNetworkError(error)})`, {
      cause: error,
    });
  }
  if (!response.ok) throw new UserError(`${method} ${url}: ${await describeHttpError(response)}`);
  return response;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  // undici wraps the socket's error (ECONNREFUSED, ENOTFOUND, ...) as `cause` of "fetch failed".
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** `412 VERSION_CONFLICT: <the service's message>`, or the status and whatever text came back. */
async function describeHttpError(response: Response): Promise<string> {
  const text = await response.text();
  const status = `${response.status} ${response.statusText}`.trim();
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; applied?: FlagsetSummary } })
      .error;
    if (error !== undefined && typeof error.code === "string") {
      const message = typeof error.message === "string" ? `: ${error.message}` : "";
      // PUT /flagset stopped part-way by a concurrent change names what it had already applied.
      const applied =
        error.applied === undefined ? "" : `\nApplied before it stopped: ${describeSummary(error.applied)}.`;
      return `${response.status} ${error.code}${message}${applied}`;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): show the text itself below.
  }
  const body = text.trim().slice(0, 300);
  return body.length > 0 ? `${status}: ${body}` : status;
}

async function readJson(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${what} did not answer JSON: ${text.slice(0, 200)}`, { cause: error });
  }
}

/** `GET /flagset`: every flag and evaluator of the service, and the ETag to write back with. */
export async function getFlagset(service: Endpoint): Promise<{ document: FlagdDocument; etag: string | undefined }> {
  const url = flagsetUrl(service.url);
  const response = await request("GET", url, service.token);
  const document = asFlagdDocument(await readJson(response, `GET ${url}`), `GET ${url}`);
  return { document, etag: response.headers.get("etag") ?? undefined };
}

/** `PUT /flagset`: applies `document` (or only reports what it would do, with `dryRun`). */
export async function putFlagset(
  service: Endpoint,
  document: FlagdDocument,
  options: { prune: boolean; ifMatch?: string; dryRun?: boolean },
): Promise<FlagsetSummary> {
  const url = new URL(flagsetUrl(service.url));
  url.searchParams.set("prune", String(options.prune));
  if (options.dryRun === true) url.searchParams.set("dryRun", "true");
  const headers: Record<string, string> = options.ifMatch === undefined ? {} : { "If-Match": options.ifMatch };
  const response = await request("PUT", url.toString(), service.token, { body: JSON.stringify(document), headers });
  return (await readJson(response, `PUT ${url}`)) as FlagsetSummary;
}

/** A file path or a service URL (`--from`), read as a flagd document. */
export async function loadSource(source: string, env: NodeJS.ProcessEnv = process.env): Promise<FlagdDocument> {
  if (isUrl(source)) return (await getFlagset(endpoint(source, "from", env))).document;
  let text: string;
  try {
    text = await readFile(source, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${source}${code === undefined ? "" : ` (${code})`}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${source} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  return asFlagdDocument(parsed, source);
}

/**
 * Reads the source and the target at once; when both fail, the source's error is the one shown,
 * so the message does not depend on which answered first.
 */
export async function readBoth<S, T>(source: Promise<S>, target: Promise<T>): Promise<[S, T]> {
  const [s, t] = await Promise.allSettled([source, target]);
  if (s.status === "rejected") throw s.reason;
  if (t.status === "rejected") throw t.reason;
  return [s.value, t.value];
}
