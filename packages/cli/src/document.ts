import { UserError } from "./errors";

/** One flag of a flagd flag-set document (`../shared/specs/flagd/flags.json`). */
export interface FlagdFlag {
  state?: string;
  variants?: Record<string, unknown>;
  defaultVariant?: string | null;
  targeting?: unknown;
  metadata?: Record<string, unknown>;
  description?: string;
  [field: string]: unknown;
}

/** A flagd flag-set document: flags by key and, optionally, shared targeting rules. */
export interface FlagdDocument {
  flags: Record<string, FlagdFlag>;
  $evaluators?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Checks the shape the diff relies on (a `flags` object of flag objects, an optional
 * `$evaluators` object) and returns the document; the service validates the rest on `PUT`.
 * flagd's array form of `flags` (each item with a `key`) is turned into the object form.
 */
export function asFlagdDocument(value: unknown, origin: string): FlagdDocument {
  if (!isObject(value)) throw new UserError(`${origin} is not a flagd flag-set document: expected a JSON object`);
  let flags = value.flags;
  if (Array.isArray(flags)) {
    const byKey: Record<string, unknown> = {};
    for (const item of flags) {
      if (!isObject(item) || typeof item.key !== "string") {
        throw new UserError(`${origin}: every item of the "flags" array needs a string "key"`);
      }
      const { key, ...flag } = item;
      byKey[key] = flag;
    }
    flags = byKey;
  }
  if (!isObject(flags)) throw new UserError(`${origin} is not a flagd flag-set document: "flags" must be an object`);
  for (const [key, flag] of Object.entries(flags)) {
    if (!isObject(flag)) throw new UserError(`${origin}: flag "${key}" must be an object`);
  }
  if (value.$evaluators !== undefined && !isObject(value.$evaluators)) {
    throw new UserError(`${origin}: "$evaluators" must be an object`);
  }
  return { ...value, flags: flags as Record<string, FlagdFlag> } as FlagdDocument;
}
