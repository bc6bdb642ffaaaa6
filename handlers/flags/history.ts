import type { TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { type Flag, type FlagItem, itemToFlag } from "./model";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * The history table: one item per change of a flag, keyed on the flag's name and `seq`, the
 * change's position in that name's history. `seq` keeps counting across a delete and a
 * re-creation of the same name (whose versions start again at 1), so nothing is overwritten and
 * a Query in `seq` order is the order of the changes. No stream: history items are written in the
 * flag write's own transaction, so the flags table's stream already carries every change.
 *
 * Evaluators keep their history here too, under keys no flag name can take (`$evaluator/<name>`,
 * see `evaluators/history.ts`): the same table, the same positions, written the same way.
 */
export const HISTORY_TABLE = {
  hashKey: "flagName",
  rangeKey: "seq",
  attributes: [
    { name: "flagName", type: "S" },
    { name: "seq", type: "N" },
  ],
} as const;

/** The local runtime and tests name the history table after the flags table this way. */
export const historyTableFor = (flagsTableName: string): string => `${flagsTableName}-history`;

/** One history entry as stored. */
export interface HistoryItem {
  flagName: string;
  seq: number;
  /** The flag's version after the change; for a deletion, the version that was deleted. */
  version: number;
  /** When the change was made (the flag's `updatedAt`; for a deletion, its time). */
  at: string;
  /** The token id that made the change. */
  actor: string | null;
  /** The flag as the change left it, as JSON text (numbers kept exactly); absent for a deletion. */
  flagJson?: string;
}

/** One history entry as the API returns it (CONTRACT.md, `GET /flags/{flagName}/history`). */
export interface HistoryEntry {
  version: number;
  at: string;
  actor: string | null;
  /** The flag as of this version; null for the entry that records the flag's deletion. */
  flag: Flag | null;
}

/** Where a flag's next history entry goes: `historyBase` (entries of earlier lives) + version. */
export const historySeq = (item: Pick<FlagItem, "historyBase">, version: number): number =>
  Number(item.historyBase ?? 0) + version;

/** The flag as a version of it: what the change set, without the read and evaluation stamps. */
export function versionOf(item: FlagItem): Flag {
  const flag = itemToFlag(item);
  delete flag.lastAccessed;
  delete flag.lastEvaluated;
  return flag;
}

/**
 * The transaction item that records one change in the history, on condition that its `seq` is
 * free: a change and its entry are written together or not at all, and two writers that computed
 * the same position cannot both commit. `flag` undefined records a deletion.
 */
export function recordHistory(
  historyTable: string,
  entry: { flagName: string; seq: number; version: number; at: string; actor: string | null; flag?: Flag },
): TransactItem {
  const item: HistoryItem = {
    flagName: entry.flagName,
    seq: entry.seq,
    version: entry.version,
    at: entry.at,
    actor: entry.actor,
  };
  if (entry.flag !== undefined) item.flagJson = JSON.stringify(entry.flag);
  return historyPut(historyTable, item);
}

/** The Put of one history item, on condition that its position (`flagName`, `seq`) is free. */
export const historyPut = (historyTable: string, item: { flagName: string; seq: number }): TransactItem => ({
  Put: { TableName: historyTable, Item: item, ConditionExpression: "attribute_not_exists(seq)" },
});

/** A stored entry as the API returns it. */
export const itemToEntry = (item: HistoryItem): HistoryEntry => ({
  version: Number(item.version),
  at: item.at,
  actor: item.actor ?? null,
  flag: item.flagJson === undefined ? null : entryFlag(JSON.parse(item.flagJson) as Flag),
});

/** An entry's flag; one written before `clientSide` existed was not client-side. */
const entryFlag = (flag: Flag): Flag => (typeof flag.clientSide === "boolean" ? flag : { ...flag, clientSide: false });
