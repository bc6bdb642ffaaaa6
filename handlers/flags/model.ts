import type { ChangeVia } from "../schedules/model";
import type { StampKind } from "./stamp";

/** flagd's flag states (CONTRACT.md, "Flag"). */
export type FlagState = "ENABLED" | "DISABLED";

/** The evaluation fields of a rich flag, with flagd's flag-definition semantics. */
export interface FlagDefinition {
  state?: FlagState;
  variants?: Record<string, unknown>;
  defaultVariant?: string | null;
  targeting?: Record<string, unknown>;
  metadata?: Record<string, string | number | boolean>;
}

/** A flag as the API returns it (CONTRACT.md, "Flag"). */
export interface Flag extends FlagDefinition {
  flagName: string;
  value?: unknown;
  description?: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  /** Whether client keys (the `evaluate` scope) can evaluate it over OFREP; false by default. */
  clientSide: boolean;
  lastAccessed?: string;
  lastEvaluated?: string;
}

/**
 * A flag as stored. The value and the definition are kept as JSON text rather than as native
 * DynamoDB types: DynamoDB numbers cannot hold every JSON number (1e308 is out of range),
 * documents nest at most 32 deep, and the text round-trips exactly.
 */
export interface FlagItem {
  flagName: string;
  valueJson?: string;
  /** The rich fields (`state`, `variants`, `defaultVariant`, `targeting`, `metadata`) as JSON text. */
  definitionJson?: string;
  /**
   * Evaluators the targeting names with `$ref`. Each one's reference count includes this flag,
   * which is what lets a delete of an evaluator in use fail atomically (see evaluators/store.ts).
   */
  refs?: string[];
  description?: string;
  /**
   * Whether client keys may evaluate the flag (CONTRACT.md, "Flag"). A top-level attribute, not
   * part of `definitionJson`: it says who may see the flag, not how it evaluates, and OFREP reads
   * it as `item.clientSide === true`. Absent (items written before it existed) means false.
   */
  clientSide?: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  lastAccessed?: string;
  /** When an OFREP evaluation last used the flag, at about a minute's resolution. */
  lastEvaluated?: string;
  /** Who read it last: written by earlier versions only (`read` audit lines now come from the access logs). */
  lastAccessedBy?: string | null;
  /** What the last write stamped, when it was a stamp and no change (./stamp.ts); never in the API's flag. */
  stamp?: StampKind;
  /** Who is deleting it: stamped just before the delete so the stream's old image names them. */
  deletedBy?: string | null;
  /** When it was deleted, epoch milliseconds: stamped with `deletedBy` for the audit line's `at`. */
  deletedAt?: number;
  /** Guards the delete that follows the stamp against a concurrent one. */
  deletionId?: string;
  /**
   * History entries of this name's earlier lives (before a delete and a re-creation); absent when
   * none. A change's entry goes at `historyBase + version` (see history.ts).
   */
  historyBase?: number;
  /** What made this version other than a request (a schedule): its audit line's `via`. Absent on a plain write. */
  via?: ChangeVia;
  /**
   * The `startedAt` of the rollout running on this flag (handlers/rollouts), absent otherwise.
   * While it is set, only that rollout's own writes change the flag: a PUT is 409 ROLLOUT_RUNNING.
   * Never in the API's flag or its history.
   */
  rolloutStartedAt?: string;
}

/** The definition fields in the contract's order. */
const DEFINITION_FIELDS = ["state", "variants", "defaultVariant", "targeting", "metadata"] as const;

/** The rich fields of a stored item, or an empty definition for a plain value flag. */
export function itemDefinition(item: Pick<FlagItem, "definitionJson">): FlagDefinition {
  return item.definitionJson === undefined ? {} : (JSON.parse(item.definitionJson) as FlagDefinition);
}

/** Turns a stored item (already unmarshalled) into the API's flag, fields in the contract's order. */
export function itemToFlag(item: FlagItem): Flag {
  const definition = itemDefinition(item);
  const rich: FlagDefinition = {};
  for (const field of DEFINITION_FIELDS) {
    if (definition[field] !== undefined) (rich as Record<string, unknown>)[field] = definition[field];
  }
  return {
    flagName: item.flagName,
    ...(item.valueJson === undefined ? {} : { value: JSON.parse(item.valueJson) }),
    ...(item.description === undefined ? {} : { description: item.description }),
    ...rich,
    clientSide: item.clientSide === true,
    version: Number(item.version),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    createdBy: item.createdBy ?? null,
    updatedBy: item.updatedBy ?? null,
    ...(item.lastAccessed === undefined ? {} : { lastAccessed: item.lastAccessed }),
    ...(item.lastEvaluated === undefined ? {} : { lastEvaluated: item.lastEvaluated }),
  };
}
