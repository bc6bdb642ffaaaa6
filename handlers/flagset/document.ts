/**
 * The flag set as one flagd flag-set document (`../shared/specs/flagd/flags.json`): what
 * `GET /flagset` exports and `PUT /flagset` imports (CONTRACT.md, the flagset routes).
 */
import { isDeepStrictEqual } from "node:util";
import type { EvaluatorItem } from "../evaluators/model";
import { toFlagdFlag } from "../flags/definition";
import { type FlagItem, itemDefinition } from "../flags/model";

/** The schema flagd loads a flag set with. */
export const FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json";

/**
 * One flag as flagd reads it (`state`, `variants`, `defaultVariant`, `targeting`, `metadata`), with
 * the service's own `clientSide` and `description` beside them: flagd's schema allows fields it does
 * not know on a flag, and ignores them, so the document still loads in flagd.
 */
export interface DocumentFlag {
  state: "ENABLED" | "DISABLED";
  variants: Record<string, unknown>;
  defaultVariant: string | null;
  targeting?: Record<string, unknown>;
  metadata?: Record<string, string | number | boolean>;
  description?: string;
  clientSide?: boolean;
}

export interface FlagSetDocument {
  $schema?: string;
  flags: Record<string, DocumentFlag>;
  $evaluators?: Record<string, unknown>;
  metadata?: Record<string, string | number | boolean>;
}

/** A stored flag as the document holds it: a plain value becomes one variant, as flagd serves it. */
export function documentFlag(item: FlagItem): DocumentFlag {
  const value = item.valueJson === undefined ? undefined : (JSON.parse(item.valueJson) as unknown);
  const flag: DocumentFlag = { ...(toFlagdFlag(value, itemDefinition(item)) as DocumentFlag) };
  if (item.description !== undefined) flag.description = item.description;
  flag.clientSide = item.clientSide === true;
  return flag;
}

/** Names in code-point order, so two exports of the same set are the same text. */
const byName = <T>(entries: Array<[string, T]>): Record<string, T> =>
  Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Every flag and evaluator as one flagd document (no `$evaluators` when there are none). */
export function toDocument(items: FlagItem[], evaluators: EvaluatorItem[]): FlagSetDocument {
  const document: FlagSetDocument = {
    $schema: FLAGD_SCHEMA,
    flags: byName(items.map((item) => [item.flagName, documentFlag(item)])),
  };
  if (evaluators.length > 0) {
    document.$evaluators = byName(evaluators.map((item) => [item.name, JSON.parse(item.expressionJson) as unknown]));
  }
  return document;
}

/** The fields that decide how a flag evaluates, as flagd reads them. */
const evaluation = (flag: DocumentFlag) => ({
  state: flag.state ?? "ENABLED",
  variants: flag.variants,
  defaultVariant: flag.defaultVariant ?? null,
  targeting: flag.targeting,
  metadata: flag.metadata,
});

/**
 * Whether importing `wanted` over `stored` changes anything: how it evaluates, or its description
 * or `clientSide` where the document gives them (absent, they stay as stored, as in a PUT).
 */
export function flagDiffers(stored: DocumentFlag, wanted: DocumentFlag): boolean {
  if (!isDeepStrictEqual(evaluation(stored), evaluation(wanted))) return true;
  if (wanted.description !== undefined && wanted.description !== stored.description) return true;
  if (wanted.clientSide !== undefined && wanted.clientSide !== (stored.clientSide ?? false)) return true;
  return false;
}
