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

export interface HistoryPage {
  versions: HistoryEntry[];
  nextCursor?: string;
}

export type HistoryStore = ReturnType<typeof makeHistoryStore>;

/** Reads flag histories, newest first. */
export function makeHistoryStore({ doc, tableName, historyTableName }: HistoryStoreDeps) {
  /** Up to `limit` entries before `before` (a seq), newest first; `more` when older ones remain. */
  const query = async (flagName: string, limit: number, before?: number) => {
    const items: HistoryItem[] = [];
    let startKey: Record<string, unknown> | undefined = before === undefined ? undefined : { flagName, seq: before };
    // A page of DynamoDB's stops at 1 MB, so a page of large flags may take several queries.
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: historyTableName,
          KeyConditionExpression: "flagName = :name",
          ExpressionAttributeValues: { ":name": flagName },
          ScanIndexForward: false,
          ConsistentRead: true,
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as HistoryItem[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length <= limit);
    return { items: items.slice(0, limit), more: items.length > limit };
  };

  const currentFlag = async (flagName: string): Promise<FlagItem | undefined> =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { flagName }, ConsistentRead: true }))).Item as
      FlagItem | undefined;

  /** Position of the newest entry of a name's history; 0 when it has none. */
  const lastSeq = async (flagName: string): Promise<number> => {
    const { items } = await query(flagName, 1);
    return items.length === 0 ? 0 : Number(items[0].seq);
  };

  return {
    lastSeq,

    /**
     * One page of a flag's history, newest first. 404 only when the name has no history and no
     * flag. A flag written before history existed (no entries yet) shows its current version.
     */
    async page(flagName: string, limit: number, before?: number): Promise<HistoryPage> {
      const { items, more } = await query(flagName, limit, before);
      if (items.length === 0) {
        if (before !== undefined && (await lastSeq(flagName)) > 0) return { versions: [] };
        const current = await currentFlag(flagName);
        if (current === undefined) throw flagNotFound(flagName);
        if (before !== undefined) return { versions: [] };
        const entry = {
          version: Number(current.version),
          at: current.updatedAt,
          actor: current.updatedBy ?? null,
          flag: versionOf(current),
        };
        return { versions: [entry] };
      }
      const last = items[items.length - 1];
      const versions = items.map(itemToEntry);
      return more ? { versions, nextCursor: encodeHistoryCursor(Number(last.seq)) } : { versions };
    },
  };
}
