import { checkEvaluatorExpression } from "../flags/definition";
import { decodeHistoryCursor } from "../flags/cursor";
import { parseFlagName, parseIfMatch, parseLimit } from "../flags/validation";
import { serviceError } from "../errors";
import { type ApiResponse, parseJsonBody, type RouteHandler } from "../http";
import type { EvaluatorHistoryStore } from "./history";
import type { Evaluator } from "./model";
import type { EvaluatorReads, EvaluatorStore } from "./store";

/** Evaluator names follow the flag-name pattern (and so can never be the `$flagset` item). */
function parseEvaluatorName(raw: string | undefined): string {
  try {
    return parseFlagName(raw);
  } catch {
    throw serviceError("VALIDATION_FAILED", "evaluator name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  }
}

/** `If-Match: <version>` of an evaluator, as flags take it (`3`, `"3"`, `W/"3"`). */
function parseEvaluatorIfMatch(raw: string | undefined): number | undefined {
  try {
    return parseIfMatch(raw);
  } catch {
    throw serviceError("VALIDATION_FAILED", "If-Match must be an evaluator version, e.g. If-Match: 3");
  }
}

// A plain array, not a Set: Pulumi serializes this module into the Lambda, and a module-level Set
// arrives as a plain object (every `has` then throws).
const SERVICE_SET: readonly string[] = [
  "name",
  "version",
  "createdAt",
  "updatedAt",
  "createdBy",
  "updatedBy",
  "usedByFlags",
];

function parseEvaluatorBody(body: unknown): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", 'body: must be a JSON object {"expression": JsonLogic}');
  }
  for (const field of Object.keys(body)) {
    if (field !== "expression" && !SERVICE_SET.includes(field)) {
      throw serviceError("VALIDATION_FAILED", `${field}: unknown field; the body is {"expression": JsonLogic}`);
    }
  }
  const { expression } = body as { expression?: unknown };
  checkEvaluatorExpression(expression);
  return expression;
}

const evaluatorResponse = (status: number, evaluator: Evaluator): ApiResponse => ({
  status,
  body: evaluator,
  // The version doubles as an ETag, as a flag's does, so clients can send it back as If-Match.
  headers: { ETag: `"${evaluator.version}"` },
});

/** `GET /evaluators`, `GET /evaluators/{name}` and `GET /evaluators/{name}/history?limit=&cursor=`. */
export function makeEvaluatorReadRoutes({
  store,
  history,
}: {
  store: Pick<EvaluatorReads, "get" | "list">;
  history: Pick<EvaluatorHistoryStore, "page">;
}): Record<string, RouteHandler> {
  return {
    "GET /evaluators": async () => ({ status: 200, body: { evaluators: await store.list() } }),
    "GET /evaluators/{name}": async (request) =>
      evaluatorResponse(200, await store.get(parseEvaluatorName(request.params.name))),
    "GET /evaluators/{name}/history": async (request) => {
      const name = parseEvaluatorName(request.params.name);
      const limit = parseLimit(request.query.limit);
      const cursor = request.query.cursor;
      const page = await history.page(name, limit, cursor === undefined ? undefined : decodeHistoryCursor(cursor));
      return { status: 200, body: page };
    },
  };
}

/** `PUT /evaluators/{name}` (with `If-Match`) and `DELETE /evaluators/{name}`. */
export function makeEvaluatorWriteRoutes({
  store,
}: {
  store: Pick<EvaluatorStore, "put" | "remove">;
}): Record<string, RouteHandler> {
  return {
    "PUT /evaluators/{name}": async (request) => {
      const name = parseEvaluatorName(request.params.name);
      const expectedVersion = parseEvaluatorIfMatch(request.header("If-Match"));
      const expression = parseEvaluatorBody(parseJsonBody(request));
      const { created, evaluator } = await store.put(name, expression, request.actor, expectedVersion);
      return evaluatorResponse(created ? 201 : 200, evaluator);
    },
    "DELETE /evaluators/{name}": async (request) => {
      await store.remove(parseEvaluatorName(request.params.name), request.actor);
      return { status: 204 };
    },
  };
}
