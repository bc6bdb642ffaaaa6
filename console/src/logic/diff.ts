import diff from "microdiff";
import type { Flag } from "../../../handlers/flags/model";

/** One line of a readable diff between two versions of a flag. */
export interface DiffLine {
  /** Dotted path, e.g. `variants.on` or `targeting.if.0`. */
  path: string;
  kind: "added" | "removed" | "changed";
  /** JSON text of the old value; absent when added. */
  before?: string;
  /** JSON text of the new value; absent when removed. */
  after?: string;
}

/** Fields that say who and when, not what: shown beside a diff, never in it. */
const BOOKKEEPING = new Set([
  "version",
  "createdAt",
  "updatedAt",
  "createdBy",
  "updatedBy",
  "lastAccessed",
  "lastEvaluated",
]);

const definitionOf = (version: object | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(version ?? {}).filter(([key]) => !BOOKKEEPING.has(key)));

const KIND = { CREATE: "added", REMOVE: "removed", CHANGE: "changed" } as const;

/**
 * What changed between two versions of a flag, field by field (nested fields by path), in a stable
 * order. An array that changed shows the elements that differ.
 */
export function diffFlags(before: Partial<Flag> | undefined, after: Partial<Flag> | undefined): DiffLine[] {
  return diffVersions(before, after);
}

/**
 * What changed between two versions of anything versioned (a flag, a shared evaluator), field by
 * field, leaving out who and when.
 */
export function diffVersions(before: object | undefined, after: object | undefined): DiffLine[] {
  return diff(definitionOf(before), definitionOf(after))
    .map((change): DiffLine => {
      const line: DiffLine = { path: change.path.join("."), kind: KIND[change.type] };
      if (change.type !== "CREATE") line.before = JSON.stringify(change.oldValue);
      if (change.type !== "REMOVE") line.after = JSON.stringify(change.value);
      return line;
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** A flag's definition as a PUT body: what a revert sends back (bookkeeping fields left out). */
export function definitionBody(flag: Partial<Flag>): Record<string, unknown> {
  const body = definitionOf(flag);
  delete body.flagName;
  // A rich flag's value is its default variant's: the service derives it.
  if (body.variants !== undefined) delete body.value;
  return body;
}
