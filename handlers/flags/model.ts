/** A flag as the API returns it (CONTRACT.md, "Flag"). */
export interface Flag {
  flagName: string;
  value?: unknown;
  description?: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  lastAccessed?: string;
}

/**
 * A flag as stored. The value is kept as JSON text rather than as native DynamoDB types: DynamoDB
 * numbers cannot hold every JSON number (1e308 is out of range), documents nest at most 32 deep,
 * and the text round-trips exactly.
 */
export interface FlagItem {
  flagName: string;
  valueJson?: string;
  description?: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  lastAccessed?: string;
  /** Who read it last (for the audit trail; not part of the API's flag). */
  lastAccessedBy?: string | null;
  /** Who is deleting it: stamped just before the delete so the stream's old image names them. */
  deletedBy?: string | null;
  /** When it was deleted, epoch milliseconds: stamped with `deletedBy` for the audit line's `at`. */
  deletedAt?: number;
  /** Guards the delete that follows the stamp against a concurrent one. */
  deletionId?: string;
}

/** Turns a stored item (already unmarshalled) into the API's flag, fields in the contract's order. */
export function itemToFlag(item: FlagItem): Flag {
  return {
    flagName: item.flagName,
    ...(item.valueJson === undefined ? {} : { value: JSON.parse(item.valueJson) }),
    ...(item.description === undefined ? {} : { description: item.description }),
    version: Number(item.version),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    createdBy: item.createdBy ?? null,
    updatedBy: item.updatedBy ?? null,
    ...(item.lastAccessed === undefined ? {} : { lastAccessed: item.lastAccessed }),
  };
}
