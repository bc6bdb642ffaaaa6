import { createHash } from "node:crypto";
import type { EvaluationContext } from "@openfeature/core";
import type { CompiledFlag, CompiledFlagSet } from "./flagSet";

/**
 * OFREP bodies (../shared/specs/ofrep/openapi.yaml, with SOURCE.md's two relaxations: a context
 * needs no targetingKey, and a success may carry flagd's reason DEFAULT).
 */
export interface EvaluationSuccess {
  key: string;
  reason: string;
  value?: unknown;
  variant?: string;
  metadata?: Record<string, string | number | boolean>;
}

export interface EvaluationFailure {
  key: string;
  errorCode: "PARSE_ERROR" | "TARGETING_KEY_MISSING" | "INVALID_CONTEXT" | "GENERAL";
  errorDetails?: string;
  metadata?: Record<string, string | number | boolean>;
}

export interface FlagNotFound {
  key: string;
  errorCode: "FLAG_NOT_FOUND";
  errorDetails: string;
}

export type SingleResult =
  | { status: 200; body: EvaluationSuccess }
  | { status: 400; body: EvaluationFailure }
  | { status: 404; body: FlagNotFound };

const withMetadata = (metadata: Record<string, string | number | boolean>) =>
  Object.keys(metadata).length > 0 ? { metadata } : {};

// A plain array, not a Set: Pulumi serializes this module into the Lambda, and a module-level Set
// arrives as a plain object (every `has` then throws).
const FAILURE_CODES: readonly string[] = ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"];

/**
 * Evaluates one compiled flag for a context. flagd-core does the evaluation; this maps its
 * resolution onto OFREP's bodies. A disabled flag answers DISABLED with no value and no variant,
 * so the application's code default applies (OFREP ADR-0006).
 */
export function evaluateFlag(compiled: CompiledFlag, context: EvaluationContext): SingleResult {
  const { key, metadata } = compiled;
  if (compiled.state === "DISABLED")
    return { status: 200, body: { key, reason: "DISABLED", ...withMetadata(metadata) } };
  if (compiled.flag === undefined) {
    return {
      status: 400,
      body: {
        key,
        errorCode: "PARSE_ERROR",
        errorDetails: compiled.error ?? "flag cannot be built",
        ...withMetadata(metadata),
      },
    };
  }
  const resolution = compiled.flag.evaluate(context);
  if (resolution.reason === "ERROR") {
    const errorCode = FAILURE_CODES.includes(String(resolution.errorCode)) ? resolution.errorCode : "GENERAL";
    return {
      status: 400,
      body: {
        key,
        errorCode: errorCode as EvaluationFailure["errorCode"],
        errorDetails: resolution.errorMessage,
        ...withMetadata(metadata),
      },
    };
  }
  if (resolution.value === undefined) {
    // No default variant and no targeting match: the code default applies.
    return { status: 200, body: { key, reason: resolution.reason, ...withMetadata(metadata) } };
  }
  if (Array.isArray(resolution.value)) {
    return {
      status: 400,
      body: {
        key,
        errorCode: "GENERAL",
        errorDetails: "the flag's value is a JSON array, which OFREP cannot carry; wrap it in an object",
        ...withMetadata(metadata),
      },
    };
  }
  return {
    status: 200,
    body: {
      key,
      value: resolution.value,
      reason: resolution.reason,
      ...(resolution.variant === undefined ? {} : { variant: resolution.variant }),
      ...withMetadata(metadata),
    },
  };
}

/** `POST /ofrep/v1/evaluate/flags/{key}`. */
export function evaluateSingle(set: CompiledFlagSet, key: string, context: EvaluationContext): SingleResult {
  const compiled = set.flags.get(key);
  if (compiled === undefined) {
    return { status: 404, body: { key, errorCode: "FLAG_NOT_FOUND", errorDetails: `flag '${key}' was not found` } };
  }
  return evaluateFlag(compiled, context);
}

/** `POST /ofrep/v1/evaluate/flags`: every flag, in key order, failures included per flag. */
export function evaluateBulk(
  set: CompiledFlagSet,
  context: EvaluationContext,
): { flags: Array<EvaluationSuccess | EvaluationFailure> } {
  const keys = [...set.flags.keys()].sort();
  return {
    flags: keys.map(
      (key) => evaluateFlag(set.flags.get(key) as CompiledFlag, context).body as EvaluationSuccess | EvaluationFailure,
    ),
  };
}

/**
 * The bulk response's ETag: a hash of the body itself, so it changes exactly when what this
 * context sees changes — whether a flag changed or the context did.
 */
export function bulkEtag(body: unknown): string {
  return `"${createHash("sha256").update(JSON.stringify(body)).digest("base64url").slice(0, 27)}"`;
}

/** Whether an `If-None-Match` header names this ETag (a list, weak forms and `*` included). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || strip(tag) === strip(etag));
}
