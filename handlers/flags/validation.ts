import * as z from "zod";
import { type ServiceError, serviceError } from "../errors";
import { checkDefinition, DEFINITION_FIELDS } from "./definition";
import type { FlagDefinition } from "./model";

/** CONTRACT.md: a flag name, which is also the table's partition key. */
export const FLAG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** CONTRACT.md: a value serializes to at most 32 KiB. */
export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_DESCRIPTION_LENGTH = 1024;
/** Deeper values are refused: nothing a flag needs, and deep recursion is what breaks parsers. */
export const MAX_VALUE_DEPTH = 32;
export const DEFAULT_PAGE_SIZE = 100;

export interface CreateFlagInput {
  flagName: string;
  /** Absent only for a rich flag without a default variant. */
  value?: unknown;
  description?: string;
  /** Whether client keys may evaluate it; false when absent. */
  clientSide?: boolean;
  /** The rich fields; absent for a plain value flag. */
  definition?: FlagDefinition;
  /** Evaluators the targeting references; absent when none. */
  refs?: string[];
}

export interface UpdateFlagInput {
  value?: unknown;
  description?: string;
  /** Absent: the stored setting stays (as `description` does). */
  clientSide?: boolean;
  flagName?: string;
  definition?: FlagDefinition;
  refs?: string[];
}

/** Nesting depth of a JSON value, computed without recursion so hostile input cannot overflow. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * The request schemas. Built on demand rather than at module level: Pulumi serializes handler
 * modules by value, and a zod instance captured that way fails to serialize. Building them costs
 * about 0.5 ms, so a route factory builds them once and passes them to every parse.
 */
export function flagSchemas() {
  const flagName = z
    .string({ error: "flagName must be a string" })
    .regex(FLAG_NAME_PATTERN, "flagName must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  // Presence and types of value and the rich fields are checked by checkDefinition, which knows
  // how they depend on each other.
  const value = z.unknown().optional();
  const rich = Object.fromEntries(DEFINITION_FIELDS.map((field) => [field, z.unknown().optional()])) as Record<
    (typeof DEFINITION_FIELDS)[number],
    z.ZodOptional<z.ZodUnknown>
  >;
  const description = z
    .string({ error: "description must be a string" })
    .max(MAX_DESCRIPTION_LENGTH, `description must be at most ${MAX_DESCRIPTION_LENGTH} characters`)
    // Stored as a DynamoDB string, which must be UTF-8: a lone surrogate (`"\ud800"`) has no
    // UTF-8 form. Values and definitions are stored as JSON text, which escapes it.
    .refine((text) => !/\p{Cs}/u.test(text), "description must not contain an unpaired UTF-16 surrogate")
    .optional();
  const clientSide = z.boolean({ error: "clientSide must be a boolean (true or false)" }).optional();
  // Fields the service sets. Accepted and ignored, so a client can send back what it read.
  const serviceSet = {
    version: z.unknown().optional(),
    createdAt: z.unknown().optional(),
    updatedAt: z.unknown().optional(),
    createdBy: z.unknown().optional(),
    updatedBy: z.unknown().optional(),
    lastAccessed: z.unknown().optional(),
    lastEvaluated: z.unknown().optional(),
  };
  return {
    flagName,
    create: z.strictObject({ flagName, value, description, clientSide, ...rich, ...serviceSet }),
    update: z.strictObject({ flagName: flagName.optional(), value, description, clientSide, ...rich, ...serviceSet }),
  };
}

function validationFailed(error: z.ZodError): ServiceError {
  const details = error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "body";
    return `${where}: ${issue.message}`;
  });
  return serviceError("VALIDATION_FAILED", details.join("; "), { cause: error });
}

function checkValueLimits(value: unknown): void {
  if (jsonDepth(value) > MAX_VALUE_DEPTH) {
    throw serviceError("VALIDATION_FAILED", `value: nests deeper than ${MAX_VALUE_DEPTH} levels`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (bytes > MAX_VALUE_BYTES) {
    throw serviceError("PAYLOAD_TOO_LARGE", `value serializes to ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}`);
  }
}

function checkDefinitionLimits(definition: Partial<Record<(typeof DEFINITION_FIELDS)[number], unknown>>): void {
  if (jsonDepth(definition) > MAX_VALUE_DEPTH + 1) {
    throw serviceError("VALIDATION_FAILED", `definition: nests deeper than ${MAX_VALUE_DEPTH} levels`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(definition), "utf8");
  if (bytes > MAX_VALUE_BYTES) {
    throw serviceError(
      "PAYLOAD_TOO_LARGE",
      `variants, targeting and metadata serialize to ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}`,
    );
  }
}

function requireObject(body: unknown): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", "body: must be a JSON object");
  }
}

/**
 * Checks value and definition together and returns the fields to store. Depth and size come
 * first: checkDefinition runs flagd-core's schema check and compiles the targeting, both
 * recursive. What it returns is a subset of the fields checked here, so within the same limits.
 */
function checkedFields(
  flagName: string,
  data: Record<string, unknown>,
): Omit<CreateFlagInput, "flagName" | "clientSide"> {
  if (data.value !== undefined) checkValueLimits(data.value);
  const rich = Object.fromEntries(
    DEFINITION_FIELDS.flatMap((field) => (data[field] === undefined ? [] : [[field, data[field]]])),
  );
  if (Object.keys(rich).length > 0) checkDefinitionLimits(rich);
  const checked = checkDefinition(flagName, data);
  // A flag write is one DynamoDB transaction (at most 100 actions): the flag, the flag-set version,
  // the history entry and a reference count per evaluator gained or lost. The evaluation bounds
  // allow at most BOUNDS.refsPerFlag (8) $refs, so 2 × 8 + 3 actions at most.
  const fields: Omit<CreateFlagInput, "flagName" | "clientSide"> = {};
  if (checked.value !== undefined) fields.value = checked.value;
  if (checked.definition !== undefined) fields.definition = checked.definition;
  if (checked.refs.length > 0) fields.refs = checked.refs;
  return fields;
}

export type FlagSchemas = ReturnType<typeof flagSchemas>;

export function parseCreateFlag(body: unknown, schemas: FlagSchemas = flagSchemas()): CreateFlagInput {
  requireObject(body);
  const result = schemas.create.safeParse(body);
  if (!result.success) throw validationFailed(result.error);
  const { flagName, description, clientSide } = result.data;
  const input: CreateFlagInput = { flagName, ...checkedFields(flagName, result.data) };
  if (description !== undefined) input.description = description;
  if (clientSide !== undefined) input.clientSide = clientSide;
  return input;
}

/** `flagName` is the path's: the definition's messages and checks are about that flag. */
export function parseUpdateFlag(
  body: unknown,
  pathFlagName = "flag",
  schemas: FlagSchemas = flagSchemas(),
): UpdateFlagInput {
  requireObject(body);
  const result = schemas.update.safeParse(body);
  if (!result.success) throw validationFailed(result.error);
  const { flagName, description, clientSide } = result.data;
  const input: UpdateFlagInput = checkedFields(pathFlagName, result.data);
  if (description !== undefined) input.description = description;
  if (clientSide !== undefined) input.clientSide = clientSide;
  if (flagName !== undefined) input.flagName = flagName;
  return input;
}

/** Validates a flag name taken from the path. */
export function parseFlagName(raw: string | undefined): string {
  if (raw === undefined || !FLAG_NAME_PATTERN.test(raw)) {
    throw serviceError("VALIDATION_FAILED", "flagName must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  }
  return raw;
}

/** `limit` query parameter: an integer 1..100, default 100. */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  if (!/^[0-9]{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > DEFAULT_PAGE_SIZE) {
    throw serviceError("VALIDATION_FAILED", `limit must be an integer from 1 to ${DEFAULT_PAGE_SIZE}`);
  }
  return Number(raw);
}

/**
 * `If-Match` header: the version the client last read. Accepts `3`, and the ETag forms `"3"` and
 * `W/"3"` that HTTP clients send back from the ETag header this service sets.
 */
export function parseIfMatch(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?([0-9]{1,15})"?\s*$/.exec(raw);
  if (match === null || Number(match[1]) < 1) {
    throw serviceError("VALIDATION_FAILED", "If-Match must be a flag version, e.g. If-Match: 3");
  }
  return Number(match[1]);
}
