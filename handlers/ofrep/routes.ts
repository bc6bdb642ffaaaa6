import type { EvaluationContext } from "@openfeature/core";
import { isServiceError } from "../errors";
import { type ApiRequest, type ApiResponse, parseJsonBody, type RouteHandler } from "../http";
import { bulkEtag, etagMatches, evaluateBulk, evaluateSingle } from "./evaluate";
import type { FlagSetCache } from "./flagSet";
import type { EvaluationRecorder } from "./lastEvaluated";

export interface OfrepRouteDeps {
  flagSet: Pick<FlagSetCache, "get">;
  recorder: EvaluationRecorder;
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
export function makeOfrepRoutes({ flagSet, recorder }: OfrepRouteDeps): Record<string, RouteHandler> {
  // The answer does not wait for the once-a-minute stamps (a bulk one makes up to one per flag).
  // On Lambda a stamp still in flight when the invocation ends resumes with the next one; a stamp
  // that fails is retried on a later evaluation (the recorder forgets it), never failing this one.
  const recordInBackground = (names: string[]) => {
    void recorder.record(names);
  };
  return {
    "POST /ofrep/v1/evaluate/flags/{key}": async (request) => {
      const key = request.params.key ?? "";
      const parsed = parseContext(request);
      if ("problem" in parsed) return json(400, { key, errorCode: "INVALID_CONTEXT", errorDetails: parsed.problem });
      const set = await flagSet.get();
      const result = evaluateSingle(set, key, parsed.context);
      if (result.status !== 404) recordInBackground([key]);
      return json(result.status, result.body);
    },
    "POST /ofrep/v1/evaluate/flags": async (request) => {
      const parsed = parseContext(request);
      if ("problem" in parsed) return json(400, { errorCode: "INVALID_CONTEXT", errorDetails: parsed.problem });
      const set = await flagSet.get();
      const body = evaluateBulk(set, parsed.context);
      const etag = bulkEtag(body);
      recordInBackground([...set.flags.keys()]);
      if (etagMatches(request.header("If-None-Match"), etag)) return { status: 304, headers: { ETag: etag } };
      return json(200, body, { ETag: etag });
    },
  };
}
