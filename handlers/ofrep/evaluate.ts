import { createHash } from "node:crypto";
import type { EvaluationContext } from "@openfeature/core";
import { type CompiledFlag, type CompiledFlagSet, type FlagView, isVisible } from "./flagSet";

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

/**
 * What a client key is told about a failure, per code. The details flagd-core and the compiler
 * write can quote the targeting (a path into the rule, a value it compares with, an evaluator's
 * name); a client key must learn nothing of the rules, only that the flag failed and how.
 */
const CLIENT_ERROR_DETAILS: Readonly<Record<EvaluationFailure["errorCode"], string>> = {
  PARSE_ERROR: "the flag cannot be evaluated",
  TARGETING_KEY_MISSING: "the flag needs a targetingKey in the context",
  INVALID_CONTEXT: "the context does not suit the flag",
  GENERAL: "the flag could not be evaluated for this context",
};

/** One flag as `view` may see it: its OFREP answer, with generic failure details for client keys. */
function answerFor(compiled: CompiledFlag, context: EvaluationContext, view: FlagView): SingleResult {
  const result = evaluateFlag(compiled, context);
  if (view === "all" || result.status !== 400) return result;
  return { status: 400, body: { ...result.body, errorDetails: CLIENT_ERROR_DETAILS[result.body.errorCode] } };
}

/**
 * `POST /ofrep/v1/evaluate/flags/{key}`. A flag outside the caller's view does not exist for it:
 * the same 404 as a flag that is not there.
 */
export function evaluateSingle(
  set: CompiledFlagSet,
  key: string,
  context: EvaluationContext,
  view: FlagView = "all",
): SingleResult {
  const compiled = set.flags.get(key);
  if (compiled === undefined || !isVisible(compiled, view)) {
    return { status: 404, body: { key, errorCode: "FLAG_NOT_FOUND", errorDetails: `flag '${key}' was not found` } };
  }
  return answerFor(compiled, context, view);
}

/** The keys of the flags a view holds, in key order. */
export function visibleKeys(set: CompiledFlagSet, view: FlagView): string[] {
  return [...set.flags.values()]
    .filter((flag) => isVisible(flag, view))
    .map((flag) => flag.key)
    .sort();
}

/** `POST /ofrep/v1/evaluate/flags`: every flag of the view, in key order, failures included per flag. */
export function evaluateBulk(
  set: CompiledFlagSet,
  context: EvaluationContext,
  view: FlagView = "all",
): { flags: Array<EvaluationSuccess | EvaluationFailure> } {
  return {
    flags: visibleKeys(set, view).map(
      (key) =>
        answerFor(set.flags.get(key) as CompiledFlag, context, view).body as EvaluationSuccess | EvaluationFailure,
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
