import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { SCOPES, type Scope, type TokenLookup, type TokenRecord } from "./tokens";

/**
 * The tokens table: one item per token, `{sha256 (S), id (S), scopes (SS)}`, keyed by the token's
 * SHA-256 (CONTRACT.md, "Auth": tokens are stored only as hashes; a stack holds at least 1,000).
 *
 * Why a table, and not the one SecureString it replaces or chunked SSM parameters:
 * - A Standard parameter holds 4 KB (23 to 34 tokens), an Advanced one 8 KB (about 60): 1,000
 *   tokens need 17 to 44 parameters, read by path (GetParametersByPath, 10 per page, so 2 to 5
 *   calls, throttled at 40 TPS per account shared by every reader) on every cold start, and each
 *   authorizer holds all of them. A DynamoDB item is 400 KB and a table has no item limit.
 * - Verification is one GetItem on the presented token's hash (about 5 ms, 0.5 RCU): an authorizer
 *   needs no list, its cold path does not grow with the number of tokens, and API Gateway caches
 *   its answer per token for the authorizer TTL on top.
 * - A token is added or revoked with one `aws dynamodb put-item` / `delete-item`, without a
 *   redeploy (README, "Tokens"); a stack's `apiTokens` are written as items by Pulumi.
 * The event-stream credential names its token by id (ofrep/streamCredential.ts), so the
 * `byId` index (all attributes projected) finds a record by id with one Query.
 */
export const TOKENS_TABLE = {
  hashKey: "sha256",
  attributes: [
    { name: "sha256", type: "S" },
    { name: "id", type: "S" },
  ],
  /** Global secondary index on `id`: the stream credential's lookup. */
  byIdIndex: "byId",
} as const;

/** The DynamoDB item of a token record, as Pulumi's TableItem and `aws dynamodb put-item` write it. */
export function tokenItem(record: TokenRecord): Record<string, unknown> {
  return { sha256: { S: record.sha256 }, id: { S: record.id }, scopes: { SS: record.scopes } };
}

/** Reads an item back, refusing anything malformed rather than trusting part of it. */
function recordOf(item: Record<string, unknown>): TokenRecord {
  const { sha256, id } = item;
  const scopes = item.scopes instanceof Set || Array.isArray(item.scopes) ? [...item.scopes] : undefined;
  const valid =
    typeof id === "string" &&
    id !== "" &&
    typeof sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(sha256) &&
    scopes !== undefined &&
    scopes.length > 0 &&
    scopes.every((scope) => SCOPES.includes(scope as Scope));
  if (!valid) throw new Error("the tokens table holds an item that is not {sha256, id, scopes}");
  return { id: id as string, sha256: sha256 as string, scopes: scopes as Scope[] };
}

export interface TokenTableDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /**
   * How long an answer (a record, or that there is none) is reused by this instance: a revoked
   * token stops, and an added one starts, within this (plus API Gateway's authorizer cache).
   */
  maxAgeSeconds: number;
  /** Answers one instance remembers; beyond it the oldest is forgotten (a scanner's misses). */
  maxEntries?: number;
  clock?: () => number;
}

/**
 * Token records in the tokens table: GetItem by hash, Query of the `byId` index by id, each
 * answer cached for `maxAgeSeconds` (misses too, so a scanner repeating a token costs one read).
 * Eventually consistent reads: half the price, and a write is visible within about a second.
 */
export function makeTokenTable({
  doc,
  tableName,
  maxAgeSeconds,
  maxEntries = 1000,
  clock = Date.now,
}: TokenTableDeps): TokenLookup {
  const cached = <T>(load: (key: string) => Promise<T>) => {
    const entries = new Map<string, { at: number; value: Promise<T> }>();
    return (key: string): Promise<T> => {
      const now = clock();
      const entry = entries.get(key);
      if (entry !== undefined && now - entry.at < maxAgeSeconds * 1000) return entry.value;
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      const value = load(key);
      entries.set(key, { at: now, value });
      // A failed read is not remembered: the next request tries again.
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    };
  };
  return {
    byHash: cached(async (sha256) => {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { sha256 } }));
      return Item === undefined ? undefined : recordOf(Item);
    }),
    byId: cached(async (id) => {
      const { Items = [] } = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: TOKENS_TABLE.byIdIndex,
          KeyConditionExpression: "#id = :id",
          ExpressionAttributeNames: { "#id": "id" },
          ExpressionAttributeValues: { ":id": id },
        }),
      );
      return Items.map(recordOf);
    }),
  };
}
