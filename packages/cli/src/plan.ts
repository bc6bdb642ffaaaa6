import diff from "microdiff";
import type { FlagdDocument } from "./document";

/** One changed value inside a flag or evaluator, `path` as written in the document (`variants.on`). */
export interface FieldChange {
  path: string;
  kind: "added" | "removed" | "changed";
  before?: unknown;
  after?: unknown;
}

/** A flag or evaluator that promoting creates, updates or deletes, with what changes inside it. */
export interface ItemChange {
  name: string;
  fields: FieldChange[];
}

export interface SectionPlan {
  created: ItemChange[];
  updated: ItemChange[];
  deleted: ItemChange[];
  /** In the target only and kept, because the promotion does not prune. */
  kept: string[];
  unchanged: number;
}

/** What promoting a source document onto a target does: the same split `PUT /flagset` reports. */
export interface Plan {
  prune: boolean;
  flags: SectionPlan;
  evaluators: SectionPlan;
}

// A readable order for a flag's fields; anything else follows, alphabetically.
const FIELD_ORDER = ["state", "defaultVariant", "variants", "targeting", "metadata", "description", "clientSide"];
const fieldRank = (field: string): number => {
  const rank = FIELD_ORDER.indexOf(field);
  return rank === -1 ? FIELD_ORDER.length : rank;
};

/** `["targeting", "if", 0, "in"]` → `targeting.if[0].in`; keys that are not identifiers are quoted. */
export function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((part, index) => {
      if (typeof part === "number") return `[${part}]`;
      if (/^[A-Za-z_$][\w$-]*$/.test(part)) return index === 0 ? part : `.${part}`;
      return `[${JSON.stringify(part)}]`;
    })
    .join("");
}

function fieldChanges(before: unknown, after: unknown): FieldChange[] {
  // Evaluators are JSON Logic: anything, not only objects; a whole-value change has an empty path.
  const isContainer = (value: unknown) => typeof value === "object" && value !== null;
  if (!isContainer(before) || !isContainer(after) || Array.isArray(before) !== Array.isArray(after)) {
    return [{ path: "", kind: "changed", before, after }];
  }
  const changes = diff(before as Record<string, unknown>, after as Record<string, unknown>).map(
    (change): FieldChange & { top: string } => {
      const top = String(change.path[0]);
      const path = formatPath(change.path);
      if (change.type === "CREATE") return { top, path, kind: "added", after: change.value };
      if (change.type === "REMOVE") return { top, path, kind: "removed", before: change.oldValue };
      return { top, path, kind: "changed", before: change.oldValue, after: change.value };
    },
  );
  // Array.prototype.sort is stable: within one field, microdiff's order (document order) stays.
  return changes
    .sort(
      (a, b) =>
        fieldRank(a.top) - fieldRank(b.top) ||
        (fieldRank(a.top) === FIELD_ORDER.length ? a.top.localeCompare(b.top) : 0),
    )
    .map(({ top: _top, ...change }) => change);
}

function topLevelFields(value: unknown): FieldChange[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [{ path: "", kind: "added", after: value }];
  }
  return Object.keys(value)
    .sort((a, b) => fieldRank(a) - fieldRank(b) || a.localeCompare(b))
    .map((key) => ({
      path: formatPath([key]),
      kind: "added" as const,
      after: (value as Record<string, unknown>)[key],
    }));
}

/** The fields of a flag a promotion writes; the service ignores any other. */
const FLAG_FIELDS = ["state", "defaultVariant", "variants", "targeting", "metadata", "description", "clientSide"];

/**
 * A source and a target flag as the service compares them on `PUT /flagset`: absent `state` is
 * ENABLED and absent `defaultVariant` null (flagd's defaults), while an absent `description` or
 * `clientSide` keeps the target's (as a `PUT /flags` does), so neither counts as a change.
 */
function comparableFlags(source: unknown, target: unknown): [before: unknown, after: unknown] {
  const pick = (flag: Record<string, unknown>) =>
    Object.fromEntries(FLAG_FIELDS.filter((field) => flag[field] !== undefined).map((field) => [field, flag[field]]));
  const before = pick(target as Record<string, unknown>);
  const after = pick(source as Record<string, unknown>);
  before.state ??= "ENABLED";
  after.state ??= "ENABLED";
  before.defaultVariant ??= null;
  after.defaultVariant ??= null;
  before.clientSide ??= false;
  for (const kept of ["description", "clientSide"]) {
    if (after[kept] === undefined && before[kept] !== undefined) after[kept] = before[kept];
  }
  return [before, after];
}

const wholeValues = (source: unknown, target: unknown): [before: unknown, after: unknown] => [target, source];

function planSection(
  source: Record<string, unknown>,
  target: Record<string, unknown>,
  prune: boolean,
  created: (value: unknown) => FieldChange[],
  comparable: (source: unknown, target: unknown) => [before: unknown, after: unknown],
): SectionPlan {
  const plan: SectionPlan = { created: [], updated: [], deleted: [], kept: [], unchanged: 0 };
  const names = [...new Set([...Object.keys(source), ...Object.keys(target)])].sort();
  for (const name of names) {
    const inSource = Object.hasOwn(source, name);
    const inTarget = Object.hasOwn(target, name);
    if (inSource && !inTarget) plan.created.push({ name, fields: created(source[name]) });
    else if (!inSource && prune) plan.deleted.push({ name, fields: [] });
    else if (!inSource) plan.kept.push(name);
    else {
      const fields = fieldChanges(...comparable(source[name], target[name]));
      if (fields.length === 0) plan.unchanged += 1;
      else plan.updated.push({ name, fields });
    }
  }
  return plan;
}

/**
 * What promoting `source` onto `target` changes, flag by flag and evaluator by evaluator: flags and
 * evaluators only the source has are created, those that differ updated, those only the target has
 * deleted with `prune` and kept without. Flags are compared as the service compares them (see
 * `comparableFlags`); the documents' own `metadata` and `$schema` are not compared.
 */
export function planPromotion(source: FlagdDocument, target: FlagdDocument, prune: boolean): Plan {
  return {
    prune,
    // A new flag reads best field by field; a new evaluator is one JSON Logic expression.
    flags: planSection(source.flags, target.flags, prune, topLevelFields, comparableFlags),
    evaluators: planSection(
      source.$evaluators ?? {},
      target.$evaluators ?? {},
      prune,
      (after) => [{ path: "", kind: "added", after }],
      wholeValues,
    ),
  };
}

/** Whether promoting would change anything in the target. */
export function hasChanges(plan: Plan): boolean {
  return [plan.flags, plan.evaluators].some(
    (section) => section.created.length + section.updated.length + section.deleted.length > 0,
  );
}
