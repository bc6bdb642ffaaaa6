import { BOUNDS } from "../../packages/openfeature-provider/src/evaluation/limits";
import { serviceError } from "../errors";

/**
 * The bytes one evaluator adds to `JSON.stringify({name: expression, ...})`, the object every
 * WebSocket client receives whole (the snapshot's first part, `evaluators.updated`): its quoted
 * name, the colon, its expression and the comma that separates it from the next.
 */
export const evaluatorEntryBytes = (name: string, expressionJson: string): number =>
  Buffer.byteLength(JSON.stringify(name)) + 1 + Buffer.byteLength(expressionJson) + 1;

/**
 * The bytes of all evaluators as that JSON object, from the sum of their entry bytes: the braces,
 * less the one comma too many (`{}` when there are none).
 */
export const evaluatorsJsonBytes = (entryBytes: number): number => (entryBytes === 0 ? 2 : entryBytes + 1);

/** Refuses an expression over `BOUNDS.evaluatorBytes` (400 naming the bound). */
export function checkEvaluatorBytes(expressionJson: string): void {
  const bytes = Buffer.byteLength(expressionJson);
  if (bytes > BOUNDS.evaluatorBytes) {
    throw serviceError(
      "VALIDATION_FAILED",
      `expression: ${bytes} bytes of JSON, over the bound evaluatorBytes (${BOUNDS.evaluatorBytes})`,
    );
  }
}

/**
 * Refuses a write after which the evaluators together (`entryBytes`, the sum of their entry bytes)
 * would be over `BOUNDS.evaluatorsTotalBytes`: they must fit one WebSocket message.
 */
export function checkEvaluatorsTotal(entryBytes: number): void {
  const bytes = evaluatorsJsonBytes(entryBytes);
  if (bytes > BOUNDS.evaluatorsTotalBytes) {
    throw serviceError(
      "VALIDATION_FAILED",
      `expression: all evaluators together would be ${bytes} bytes of JSON, over the bound ` +
        `evaluatorsTotalBytes (${BOUNDS.evaluatorsTotalBytes}); every client receives them in one message`,
    );
  }
}
