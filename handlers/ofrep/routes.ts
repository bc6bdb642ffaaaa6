import type { EvaluationContext } from "@openfeature/core";
import { isClientKey, type Scope, type TokenLookup } from "../auth/tokens";
import { isServiceError } from "../errors";
import { type ApiRequest, type ApiResponse, parseJsonBody, type RouteHandler } from "../http";
import { bulkEtag, etagMatches, evaluateBulk, evaluateSingle, visibleKeys } from "./evaluate";
import type { FlagSetCache, FlagView } from "./flagSet";
import type { EvaluationRecorder } from "./lastEvaluated";
import { issueStreamCredential } from "./streamCredential";

export interface OfrepRouteDeps {
  flagSet: Pick<FlagSetCache, "get">;
  recorder: EvaluationRecorder;
  /**
   * The token records (as the authorizer reads them), to sign the caller's event-stream
   * credential with its record (found by id). Absent: the bulk response carries no
   * `eventStreams` and clients poll.
   */
  tokens?: TokenLookup;
  clock?: () => number;
}

/** Path of the OFREP event stream (SSE), served by the `events` route group. */
export const EVENTS_PATH = "/ofrep/v1/events";

/**
 * Seconds a hidden tab keeps its stream open (ADR-0008 `inactivityDelaySec`). A minute: on AWS an
 * open stream bills Lambda time the whole while, and a tab that comes back re-fetches anyway.
 */
export const INACTIVITY_DELAY_SECONDS = 60;

/** Which flags a caller sees: a client key only the client-side ones (CONTRACT.md, "Auth"). */
export const viewOf = (scopes: readonly Scope[]): FlagView => (isClientKey(scopes) ? "clientSide" : "all");

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/;

/**
 * The absolute URL of the caller's event stream, as the client reached this API: its scheme
 * (`X-Forwarded-Proto`, which API Gateway sets to https; none locally), host and base path (the
 * stage on API Gateway's default endpoint). Undefined when the request names no usable host.
 */
export function eventStreamUrl(request: ApiRequest, credential: string, configEtag: string): string | undefined {
  const host = request.header("Host");
  if (host === undefined || !HOST.test(host)) return undefined;
  const forwarded = request.header("X-Forwarded-Proto")?.split(",")[0].trim().toLowerCase();
  const scheme = forwarded === "https" || forwarded === "http" ? forwarded : "http";
  const query = new URLSearchParams({ c: credential, v: configEtag });
  return `${scheme}://${host}${request.basePath}${EVENTS_PATH}?${query}`;
}

/** Why a request's context is unusable, or the context. */
function parseContext(request: ApiRequest): { context: EvaluationContext } | { problem: string } {
  let body: unknown;
  try {
    body = parseJsonBody(request);
  } catch (error) {
    // A body over the size limit stays the service's 413; anything else is OFREP's 400.
    if (isServiceError(error) && error.code === "PAYLOAD_TOO_LARGE") throw error;
    return { problem: (error as Error).message };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { problem: 'the body must be a JSON object: {"context": {...}}' };
  }
  const context = (body as { context?: unknown }).context;
  if (context === null || typeof context !== "object" || Array.isArray(context)) {
    return { problem: 'context is required and must be an object: {"context": {"targetingKey": "user-1"}}' };
  }
  const targetingKey = (context as { targetingKey?: unknown }).targetingKey;
  if (targetingKey !== undefined && typeof targetingKey !== "string") {
    return { problem: "context.targetingKey must be a string" };
  }
  const shape = contextShapeProblem(context);
  if (shape !== undefined) return { problem: shape };
  return { context: context as EvaluationContext };
}

/** How deep a context may nest (the context object is level 1). */
const MAX_CONTEXT_DEPTH = 16;

/**
 * What no evaluation context needs and the evaluation bounds cannot price: deep nesting, and an
 * array holding anything but strings, numbers, booleans and null. JsonLogic turns a value into text
 * in several places (`cat`, `sem_ver`, `in` over a string, a rule's result): an array of arrays or
 * of objects costs up to 37 ns a byte to join (about 2.5 ms for one 64 KiB value, measured), an
 * array of primitives at most 8, which the bounds charge (see
 * packages/openfeature-provider/src/evaluation/bounds.ts). Walked without recursion.
 */
export function contextShapeProblem(context: object): string | undefined {
  const pending: Array<{ value: unknown; depth: number; path: string }> = [
    { value: context, depth: 1, path: "context" },
  ];
  while (pending.length > 0) {
    const { value, depth, path } = pending.pop() as (typeof pending)[number];
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_CONTEXT_DEPTH) return `${path}: a context nests at most ${MAX_CONTEXT_DEPTH} levels deep`;
    if (Array.isArray(value)) {
      const nested = value.findIndex((item) => item !== null && typeof item === "object");
      if (nested >= 0) {
        return `${path}[${nested}]: an array in a context holds only strings, numbers, booleans and null`;
      }
      continue;
    }
    for (const [key, item] of Object.entries(value))
      pending.push({ value: item, depth: depth + 1, path: `${path}.${key}` });
  }
  return undefined;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  body,
  headers,
});

/**
 * The OFREP routes (read scope). Bodies and status codes are OFREP's, never this API's error body.
 * Evaluation reads the warm flag set (see flagSet.ts) and stamps `lastEvaluated` at most once a
 * minute per flag; neither costs a DynamoDB request per evaluation.
 */
export function makeOfrepRoutes({
  flagSet,
  recorder,
  tokens,
  clock = Date.now,
}: OfrepRouteDeps): Record<string, RouteHandler> {
  // The answer does not wait for the once-a-minute stamps (a bulk one makes up to one per flag).
  // On Lambda a stamp still in flight when the invocation ends resumes with the next one; a stamp
  // that fails is retried on a later evaluation (the recorder forgets it), never failing this one.
  const recordInBackground = (names: string[]) => {
    void recorder.record(names);
  };
  const eventStreams = async (request: ApiRequest, configEtag: string) => {
    if (tokens === undefined || request.actor === null) return undefined;
    const records = await tokens.byId(request.actor);
    // Two items with one id (written by hand): no credential, which could not tell them apart.
    if (records.length !== 1) return undefined;
    const [record] = records;
    const url = eventStreamUrl(request, issueStreamCredential(record, clock()), configEtag);
    return url === undefined ? undefined : [{ type: "sse", url, inactivityDelaySec: INACTIVITY_DELAY_SECONDS }];
  };
  return {
    "POST /ofrep/v1/evaluate/flags/{key}": async (request) => {
      const key = request.params.key ?? "";
      const parsed = parseContext(request);
      if ("problem" in parsed) return json(400, { key, errorCode: "INVALID_CONTEXT", errorDetails: parsed.problem });
      const set = await flagSet.get();
      const result = evaluateSingle(set, key, parsed.context, viewOf(request.scopes));
      if (result.status !== 404) recordInBackground([key]);
      return json(result.status, result.body);
    },
    "POST /ofrep/v1/evaluate/flags": async (request) => {
      const parsed = parseContext(request);
      if ("problem" in parsed) return json(400, { errorCode: "INVALID_CONTEXT", errorDetails: parsed.problem });
      const view = viewOf(request.scopes);
      let set = await flagSet.get();
      // An event stream told the client of a configuration this cache does not hold yet (another
      // container saw the change first): probe the version now rather than at the next interval,
      // as ADR-0008 lets a server do, so the re-fetch the event triggered sees the change.
      const heardOf = request.query.flagConfigEtag;
      if (heardOf !== undefined && heardOf !== set.etags[view]) set = await flagSet.get({ recheck: true });
      const streams = await eventStreams(request, set.etags[view]);
      const body = {
        ...evaluateBulk(set, parsed.context, view),
        ...(streams === undefined ? {} : { eventStreams: streams }),
      };
      const etag = bulkEtag(body);
      recordInBackground(visibleKeys(set, view));
      // 304 only for a matching If-None-Match, never for flagConfigEtag alone: the event's etag
      // names the configuration the client has *not* evaluated yet (it is what changed), so
      // equality with the current configuration says nothing about the client's cached
      // evaluations, which only the bulk ETag (a hash of this body) describes.
      if (etagMatches(request.header("If-None-Match"), etag)) return { status: 304, headers: { ETag: etag } };
      return json(200, body, { ETag: etag });
    },
  };
}
