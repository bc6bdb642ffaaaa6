import { type DynamoDBDocumentClient, GetCommand, type TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import { serviceError } from "../errors";
import { historyPut } from "../flags/history";
import { type HistoryPage, makeHistoryReader } from "../flags/historyStore";
import { type EvaluatorItem, type EvaluatorVersion, versionOfEvaluator } from "./model";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * Evaluators keep their history in the flags' history table, under `$evaluator/<name>`: no flag
 * name can start with `$` or hold a `/`, so an evaluator's entries never mix with a flag's, even
 * one of the same name.
 */
export const evaluatorHistoryKey = (name: string): string => `$evaluator/${name}`;

/** One evaluator history entry as stored (`flagName` is the table's key attribute). */
export interface EvaluatorHistoryItem {
  /** `evaluatorHistoryKey(name)`. */
  flagName: string;
  seq: number;
  /** The evaluator's version after the change; for a deletion, the version that was deleted. */
  version: number;
  at: string;
  actor: string | null;
  /** The evaluator as the change left it, as JSON text; absent for a deletion. */
  evaluatorJson?: string;
}

/** One entry as the API returns it (CONTRACT.md, `GET /evaluators/{name}/history`). */
export interface EvaluatorHistoryEntry {
  version: number;
  at: string;
  actor: string | null;
  /** The evaluator as of this version; null for the entry that records its deletion. */
  evaluator: EvaluatorVersion | null;
}

/**
 * The transaction item that records one change of an evaluator, on condition that its position
 * is free: the change and its entry are written together or not at all. `evaluator` undefined
 * records a deletion.
 */
export function recordEvaluatorHistory(
  historyTable: string,
  entry: { name: string; seq: number; version: number; at: string; actor: string | null; evaluator?: EvaluatorVersion },
): TransactItem {
  const item: EvaluatorHistoryItem = {
    flagName: evaluatorHistoryKey(entry.name),
    seq: entry.seq,
    version: entry.version,
    at: entry.at,
    actor: entry.actor,
  };
  if (entry.evaluator !== undefined) item.evaluatorJson = JSON.stringify(entry.evaluator);
  return historyPut(historyTable, item);
}

const itemToEntry = (item: EvaluatorHistoryItem): EvaluatorHistoryEntry => ({
  version: Number(item.version),
  at: item.at,
  actor: item.actor ?? null,
  evaluator: item.evaluatorJson === undefined ? null : (JSON.parse(item.evaluatorJson) as EvaluatorVersion),
});

export type EvaluatorHistoryStore = ReturnType<typeof makeEvaluatorHistoryStore>;

/** Reads evaluator histories, newest first. */
export function makeEvaluatorHistoryStore({
  doc,
  tableName,
  historyTableName,
}: {
  doc: DynamoDBDocumentClient;
  /** The evaluators table: consulted only for a name without entries. */
  tableName: string;
  historyTableName: string;
}) {
  const reader = makeHistoryReader<EvaluatorHistoryItem, EvaluatorHistoryEntry>({
    doc,
    historyTableName,
    toEntry: itemToEntry,
  });
  return {
    /** Position of the newest entry of a name's history; 0 when it has none. */
    lastSeq: (name: string): Promise<number> => reader.lastSeq(evaluatorHistoryKey(name)),

    /**
     * One page of an evaluator's history, newest first, readable after a delete. 404 only when
     * the name has no history and no evaluator; one written before history was kept shows its
     * current version.
     */
    page(name: string, limit: number, before?: number): Promise<HistoryPage<EvaluatorHistoryEntry>> {
      const current = async (): Promise<EvaluatorHistoryEntry | undefined> => {
        const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { name }, ConsistentRead: true }));
        if (Item === undefined) return undefined;
        const item = Item as EvaluatorItem;
        return {
          version: Number(item.version),
          at: item.updatedAt,
          actor: item.updatedBy ?? null,
          evaluator: versionOfEvaluator(item),
        };
      };
      const notFound = () => serviceError("EVALUATOR_NOT_FOUND", `evaluator '${name}' does not exist`);
      return reader.page(evaluatorHistoryKey(name), limit, before, current, notFound);
    },
  };
}
