import { z } from "zod";
import { type ServiceError, serviceError } from "../errors";

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
  value: unknown;
  description?: string;
}

export interface UpdateFlagInput {
  value: unknown;
  description?: string;
  flagName?: string;
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
 * modules by value, and a zod instance captured that way fails to serialize.
 */
export function flagSchemas() {
  const flagName = z
    .string({ error: "flagName must be a string" })
    .regex(FLAG_NAME_PATTERN, "flagName must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  const value = z.unknown().refine((v) => v !== undefined && v !== null, "value is required and must not be null");
  const description = z
    .string({ error: "description must be a string" })
    .max(MAX_DESCRIPTION_LENGTH, `description must be at most ${MAX_DESCRIPTION_LENGTH} characters`)
    .optional();
  // Fields the service sets. Accepted and ignored, so a client can send back what it read.
  const serviceSet = {
    version: z.unknown().optional(),
    createdAt: z.unknown().optional(),
    updatedAt: z.unknown().optional(),
    createdBy: z.unknown().optional(),
    updatedBy: z.unknown().optional(),
    lastAccessed: z.unknown().optional(),
  };
  return {
    flagName,
    create: z.strictObject({ flagName, value, description, ...serviceSet }),
    update: z.strictObject({ flagName: flagName.optional(), value, description, ...serviceSet }),
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

function requireObject(body: unknown): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw serviceError("VALIDATION_FAILED", "body: must be a JSON object");
  }
}

export function parseCreateFlag(body: unknown): CreateFlagInput {
  requireObject(body);
  const result = flagSchemas().create.safeParse(body);
  if (!result.success) throw validationFailed(result.error);
  checkValueLimits(result.data.value);
  const { flagName, value, description } = result.data;
  return description === undefined ? { flagName, value } : { flagName, value, description };
}

export function parseUpdateFlag(body: unknown): UpdateFlagInput {
  requireObject(body);
  const result = flagSchemas().update.safeParse(body);
  if (!result.success) throw validationFailed(result.error);
  checkValueLimits(result.data.value);
  const { flagName, value, description } = result.data;
  const input: UpdateFlagInput = { value };
  if (description !== undefined) input.description = description;
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
