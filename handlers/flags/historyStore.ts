import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { flagNotFound } from "../errors";
import { encodeHistoryCursor } from "./cursor";
import { type HistoryEntry, type HistoryItem, itemToEntry, versionOf } from "./history";
import type { FlagItem } from "./model";

export interface HistoryStoreDeps {
  doc: DynamoDBDocumentClient;
  /** The flags table: consulted only to tell a flag without entries from one that never existed. */
  tableName: string;
  historyTableName: string;
}

/** One page of a history, newest first (`Entry`: a flag's or an evaluator's entry). */
export interface HistoryPage<Entry = HistoryEntry> {
  versions: Entry[];
  nextCursor?: string;
}

/** What every stored history entry has, whatever it records: its key and its position. */
interface PositionedItem {
  flagName: string;
  seq: number;
}

/**
 * Reads one history table's entries by key (a flag's name, or an evaluator's key: see
 * `evaluators/history.ts`), newest first, in pages with the history cursor.
 */
export function makeHistoryReader<Item extends PositionedItem, Entry>({
  doc,
  historyTableName,
  toEntry,
}: {
  doc: DynamoDBDocumentClient;
  historyTableName: string;
  toEntry: (item: Item) => Entry;
}) {
  /** Up to `limit` entries before `before` (a seq), newest first; `more` when older ones remain. */
  const query = async (key: string, limit: number, before?: number) => {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined =
      before === undefined ? undefined : { flagName: key, seq: before };
    // A page of DynamoDB's stops at 1 MB, so a page of large entries may take several queries.
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: historyTableName,
          KeyConditionExpression: "flagName = :name",
          ExpressionAttributeValues: { ":name": key },
          ScanIndexForward: false,
          ConsistentRead: true,
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as Item[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length <= limit);
    return { items: items.slice(0, limit), more: items.length > limit };
  };

  /** Position of the newest entry under a key; 0 when it has none. */
  const lastSeq = async (key: string): Promise<number> => {
    const { items } = await query(key, 1);
    return items.length === 0 ? 0 : Number(items[0].seq);
  };

  return {
    lastSeq,

    /**
     * One page of the history under `key`, newest first. Without entries, `current` decides: the
     * entry for something written before history was kept (shown as its current version), or
     * undefined for something that never existed, which `notFound` refuses.
     */
    async page(
      key: string,
      limit: number,
      before: number | undefined,
      current: () => Promise<Entry | undefined>,
      notFound: () => Error,
    ): Promise<HistoryPage<Entry>> {
      const { items, more } = await query(key, limit, before);
      if (items.length === 0) {
        if (before !== undefined && (await lastSeq(key)) > 0) return { versions: [] };
        const entry = await current();
        if (entry === undefined) throw notFound();
        return { versions: before === undefined ? [entry] : [] };
      }
      const last = items[items.length - 1];
      const versions = items.map(toEntry);
      return more ? { versions, nextCursor: encodeHistoryCursor(Number(last.seq)) } : { versions };
    },
  };
}

export type HistoryStore = ReturnType<typeof makeHistoryStore>;

/** Reads flag histories, newest first. */
export function makeHistoryStore({ doc, tableName, historyTableName }: HistoryStoreDeps) {
  const reader = makeHistoryReader<HistoryItem, HistoryEntry>({ doc, historyTableName, toEntry: itemToEntry });

  const currentFlag = async (flagName: string): Promise<FlagItem | undefined> =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true }))).Item as
      FlagItem | undefined;

  return {
    lastSeq: reader.lastSeq,

    /**
     * One page of a flag's history, newest first. 404 only when the name has no history and no
     * flag. A flag written before history existed (no entries yet) shows its current version.
     */
    page(flagName: string, limit: number, before?: number): Promise<HistoryPage> {
      const current = async (): Promise<HistoryEntry | undefined> => {
        const item = await currentFlag(flagName);
        if (item === undefined) return undefined;
        return {
          version: Number(item.version),
          at: item.updatedAt,
          actor: item.updatedBy ?? null,
          flag: versionOf(item),
        };
      };
      return reader.page(flagName, limit, before, current, () => flagNotFound(flagName));
    },
  };
}
