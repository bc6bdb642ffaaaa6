/**
 * Stamps: writes to a flag's item that record a use of it (`lastAccessed` by a read,
 * `lastEvaluated` by an evaluation) or prepare its delete (`deletedBy`), and change nothing a user
 * made. Each sets `STAMP_ATTRIBUTE` to what it stamped; every change (an update) removes it, and a
 * create writes a fresh item without it. So a stream record's new image alone tells a stamp from a
 * change, which is all an event-source filter can look at: it cannot compare the old and new
 * images (see `FLAGS_STREAM_FILTERS` in ../realtime/table.ts).
 */
export const STAMP_ATTRIBUTE = "stamp";

/** What a stamp wrote last; the attribute's value, for whoever reads the table by hand. */
export type StampKind = "lastAccessed" | "lastEvaluated" | "deletedBy";

/** `lastAccessed` and `lastEvaluated` resolution: a flag stamped within it is not stamped again. */
export const STAMP_RESOLUTION_MS = 60_000;
