/** A shared evaluator as one version of it: what a change set, and who made it when. */
export interface EvaluatorVersion {
  name: string;
  /** JsonLogic that flags use in their targeting with `{"$ref": name}`. */
  expression: unknown;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
}

/** A shared evaluator as the API returns it (CONTRACT.md, `PUT /evaluators/{name}`). */
export interface Evaluator extends EvaluatorVersion {
  /** How many flags reference it; it can be deleted only at 0. */
  usedByFlags: number;
}

/** An evaluator as stored in the evaluators table. */
export interface EvaluatorItem {
  name: string;
  /** The expression as JSON text, as flags keep their definitions (numbers kept exactly). */
  expressionJson: string;
  /** Flags whose targeting references it, kept by the flags' own transactions. */
  refCount?: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  /**
   * Entries of the name's history before this life began (a name deleted and created again): the
   * history position of version v is `historyBase + v`, which only ever grows for a name.
   */
  historyBase?: number;
  /**
   * Stamped just before a delete (its stream record carries only the old image): who deleted it,
   * when (epoch ms), and which delete, so the delete applies only to the item its caller stamped.
   * The version is unchanged, so the stamp is no change of its own (no audit line, no message).
   */
  deletedBy?: string | null;
  deletedAt?: number;
  deletionId?: string;
}

/** The version an item holds: without its reference count and delete stamps. */
export const versionOfEvaluator = (item: EvaluatorItem): EvaluatorVersion => ({
  name: item.name,
  expression: JSON.parse(item.expressionJson),
  version: Number(item.version),
  createdAt: item.createdAt,
  updatedAt: item.updatedAt,
  createdBy: item.createdBy ?? null,
  updatedBy: item.updatedBy ?? null,
});

/** An item as the API returns it. */
export const itemToEvaluator = (item: EvaluatorItem): Evaluator => ({
  ...versionOfEvaluator(item),
  usedByFlags: Number(item.refCount ?? 0),
});

/**
 * The position of an item's current version in its name's history; a deletion's entry goes one
 * after it. Positions only grow for a name, across deletes and re-creations, so they order every
 * state a name has had (which `evaluators.updated` relies on, see realtime/handlers.ts).
 */
export const evaluatorPosition = (item: Pick<EvaluatorItem, "historyBase" | "version">): number =>
  Number(item.historyBase ?? 0) + Number(item.version);

/** Every evaluator as clients receive them, with the history position each was read at. */
export interface EvaluatorSet {
  /** Name → expression (flagd's `$evaluators`), in name order. */
  expressions: Record<string, unknown>;
  /** Name → `evaluatorPosition` of the version read. */
  positions: Record<string, number>;
}
