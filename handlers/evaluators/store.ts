import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { serviceError } from "../errors";
import { backoff, bumpFlagSet, runTransaction, TRANSACTION_ATTEMPTS } from "../flags/transactions";
import { FLAG_SET_KEY } from "./table";

/** A shared evaluator as the API returns it. */
export interface Evaluator {
  name: string;
  /** JsonLogic that flags use in their targeting with `{"$ref": name}`. */
  expression: unknown;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
  /** How many flags reference it; it can be deleted only at 0. */
  usedByFlags: number;
}

interface EvaluatorItem {
  name: string;
  expressionJson: string;
  refCount?: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string | null;
  updatedBy: string | null;
}

const toEvaluator = (item: EvaluatorItem): Evaluator => ({
  name: item.name,
  expression: JSON.parse(item.expressionJson),
  version: Number(item.version),
  createdAt: item.createdAt,
  updatedAt: item.updatedAt,
  createdBy: item.createdBy ?? null,
  updatedBy: item.updatedBy ?? null,
  usedByFlags: Number(item.refCount ?? 0),
});

const evaluatorNotFound = (name: string) => serviceError("EVALUATOR_NOT_FOUND", `evaluator '${name}' does not exist`);

export type EvaluatorStore = ReturnType<typeof makeEvaluatorStore>;

/**
 * Shared evaluators. Each write is a transaction with the flag-set version bump (so OFREP caches
 * see it); a delete requires the reference count flags maintain in their own transactions to be 0.
 */
export function makeEvaluatorStore({
  doc,
  tableName,
  now = () => new Date(),
}: {
  doc: DynamoDBDocumentClient;
  tableName: string;
  now?: () => Date;
}) {
  const run = async (items: Parameters<typeof runTransaction>[1]) => {
    const cancelled = await runTransaction(doc, items);
    return { codes: cancelled?.codes, reasons: (cancelled?.items ?? []).map((Item) => ({ Item })) };
  };

  return {
    /** Creates or replaces an evaluator; `created` tells which. */
    async put(
      name: string,
      expression: unknown,
      actor: string | null,
    ): Promise<{ created: boolean; evaluator: Evaluator }> {
      const expressionJson = JSON.stringify(expression);
      for (let attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        // Lost a race (created, replaced or deleted meanwhile): retry out of step with the others.
        if (attempt > 0) await backoff(attempt - 1);
        const at = now().toISOString();
        const item: EvaluatorItem = {
          name,
          expressionJson,
          refCount: 0,
          version: 1,
          createdAt: at,
          updatedAt: at,
          createdBy: actor,
          updatedBy: actor,
        };
        const created = await run(() => [
          {
            Put: {
              TableName: tableName,
              Item: item,
              ConditionExpression: "attribute_not_exists(#n)",
              ExpressionAttributeNames: { "#n": "name" },
            },
          },
          bumpFlagSet(tableName, at),
        ]);
        if (created.codes === undefined) return { created: true, evaluator: toEvaluator(item) };
        const existing = created.reasons[0]?.Item;
        const current = existing === undefined ? await this.getItem(name) : (unmarshall(existing) as EvaluatorItem);
        if (current === undefined) continue;
        // Reference counts are kept: replacing an expression changes no flag's references.
        const replaced = await run(() => [
          {
            Update: {
              TableName: tableName,
              Key: { name },
              UpdateExpression: "SET expressionJson = :e, version = :next, updatedAt = :at, updatedBy = :actor",
              ConditionExpression: "version = :old",
              ExpressionAttributeValues: {
                ":e": expressionJson,
                ":next": Number(current.version) + 1,
                ":old": current.version,
                ":at": at,
                ":actor": actor,
              },
            },
          },
          bumpFlagSet(tableName, at),
        ]);
        if (replaced.codes === undefined) {
          return {
            created: false,
            evaluator: toEvaluator({
              ...current,
              expressionJson,
              version: Number(current.version) + 1,
              updatedAt: at,
              updatedBy: actor,
            }),
          };
        }
      }
      throw new Error(`write of evaluator '${name}' kept losing to concurrent changes`);
    },

    async getItem(name: string): Promise<EvaluatorItem | undefined> {
      const result = await doc.send(new GetCommand({ TableName: tableName, Key: { name }, ConsistentRead: true }));
      return result.Item as EvaluatorItem | undefined;
    },

    async get(name: string): Promise<Evaluator> {
      const item = await this.getItem(name);
      if (item === undefined) throw evaluatorNotFound(name);
      return toEvaluator(item);
    },

    /** Every evaluator (the table holds a few dozen at most; one Scan, paginated). */
    async list(): Promise<Evaluator[]> {
      const items: EvaluatorItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
        items.push(...((page.Items ?? []) as EvaluatorItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items
        .filter((item) => item.name !== FLAG_SET_KEY)
        .map(toEvaluator)
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    /** Deletes an evaluator no flag references: 404 when missing, 409 EVALUATOR_IN_USE when used. */
    async remove(name: string): Promise<void> {
      const { codes, reasons } = await run(() => [
        {
          Delete: {
            TableName: tableName,
            Key: { name },
            ConditionExpression:
              "attribute_exists(expressionJson) AND (attribute_not_exists(refCount) OR refCount = :zero)",
            ExpressionAttributeValues: { ":zero": 0 },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          },
        },
        bumpFlagSet(tableName, now().toISOString()),
      ]);
      if (codes === undefined) return;
      const old = reasons[0]?.Item;
      if (old === undefined) throw evaluatorNotFound(name);
      const count = Number((unmarshall(old) as EvaluatorItem).refCount ?? 0);
      throw serviceError(
        "EVALUATOR_IN_USE",
        `evaluator '${name}' is referenced by ${count} flag${count === 1 ? "" : "s"}; remove the $ref from them first`,
      );
    },
  };
}

/** All shared evaluators by name (flagd's `$evaluators`), as snapshots and `evaluators.updated` carry them. */
export function evaluatorsByName(store: Pick<EvaluatorStore, "list">): () => Promise<Record<string, unknown>> {
  return async () => Object.fromEntries((await store.list()).map((e) => [e.name, e.expression]));
}
