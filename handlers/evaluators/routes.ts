import { checkEvaluatorExpression } from "../flags/definition";
import { parseFlagName } from "../flags/validation";
import { serviceError } from "../errors";
import { parseJsonBody, type RouteHandler } from "../http";
import type { EvaluatorStore } from "./store";

/** Evaluator names follow the flag-name pattern (and so can never be the `$flagset` item). */
function parseEvaluatorName(raw: string | undefined): string {
  try {
    return parseFlagName(raw);
  } catch {
    throw serviceError("VALIDATION_FAILED", "evaluator name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  }
}

const SERVICE_SET = new Set(["name", "version", "createdAt", "updatedAt", "createdBy", "updatedBy", "usedByFlags"]);

function parseEvaluatorBody(body: unknown): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", 'body: must be a JSON object {"expression": JsonLogic}');
  }
  for (const field of Object.keys(body)) {
    if (field !== "expression" && !SERVICE_SET.has(field)) {
      throw serviceError("VALIDATION_FAILED", `${field}: unknown field; the body is {"expression": JsonLogic}`);
    }
  }
  const { expression } = body as { expression?: unknown };
  checkEvaluatorExpression(expression);
  return expression;
}

/** `GET /evaluators` and `GET /evaluators/{name}`. */
export function makeEvaluatorReadRoutes({ store }: { store: EvaluatorStore }): Record<string, RouteHandler> {
  return {
    "GET /evaluators": async () => ({ status: 200, body: { evaluators: await store.list() } }),
    "GET /evaluators/{name}": async (request) => ({
      status: 200,
      body: await store.get(parseEvaluatorName(request.params.name)),
    }),
  };
}

/** `PUT /evaluators/{name}` and `DELETE /evaluators/{name}`. */
export function makeEvaluatorWriteRoutes({ store }: { store: EvaluatorStore }): Record<string, RouteHandler> {
  return {
    "PUT /evaluators/{name}": async (request) => {
      const name = parseEvaluatorName(request.params.name);
      const expression = parseEvaluatorBody(parseJsonBody(request));
      const { created, evaluator } = await store.put(name, expression, request.actor);
      return { status: created ? 201 : 200, body: evaluator };
    },
    "DELETE /evaluators/{name}": async (request) => {
      await store.remove(parseEvaluatorName(request.params.name));
      return { status: 204 };
    },
  };
}
