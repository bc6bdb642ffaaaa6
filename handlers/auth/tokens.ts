import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Token scopes (CONTRACT.md, "Auth"): `write` for everything; `read` for GET routes, OFREP and the
 * WebSocket; `evaluate` (a client key, safe to publish in a web page) for OFREP and its event
 * stream only, and only for flags with `clientSide: true`.
 */
export const SCOPES = ["read", "write", "evaluate"] as const;
export type Scope = (typeof SCOPES)[number];

/** A token as configured (`pulumi config set --secret apiTokens`, or the local runtime's env). */
export interface TokenConfig {
  id: string;
  token: string;
  scopes: Scope[];
}

/** A token as stored: only its SHA-256 leaves the operator's machine. */
export interface TokenRecord {
  id: string;
  sha256: string;
  scopes: Scope[];
}

/** Who a verified token belongs to; what the authorizer passes on to the handlers. */
export interface Principal {
  tokenId: string;
  scopes: Scope[];
}

/** Shortest token accepted: 24 characters of base64 carry 144 bits. */
export const MIN_TOKEN_LENGTH = 24;
const TOKEN_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** Validates configured tokens and hashes them; throws a message naming the bad entry. */
export function toTokenRecords(tokens: unknown): TokenRecord[] {
  if (!Array.isArray(tokens)) throw new Error('apiTokens must be a JSON array of {"id", "token", "scopes"}');
  const seen = new Set<string>();
  return tokens.map((entry: unknown, index) => {
    const { id, token, scopes } = (entry ?? {}) as Partial<Record<keyof TokenConfig, unknown>>;
    const where = `apiTokens[${index}]`;
    if (typeof id !== "string" || !TOKEN_ID_PATTERN.test(id))
      throw new Error(`${where}.id must match ${TOKEN_ID_PATTERN}`);
    if (seen.has(id)) throw new Error(`${where}.id '${id}' is used twice`);
    seen.add(id);
    if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new Error(
        `${where}.token must be at least ${MIN_TOKEN_LENGTH} characters without spaces (openssl rand -hex 32)`,
      );
    }
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => SCOPES.includes(s))) {
      throw new Error(`${where}.scopes must be a non-empty subset of ${JSON.stringify(SCOPES)}`);
    }
    return { id, sha256: hashToken(token), scopes: [...new Set(scopes as Scope[])] };
  });
}

/** The token in `Authorization: Bearer <token>`, or undefined for a missing or malformed header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Finds the record a token hashes to. Every record is compared, each in constant time, so the
 * time taken does not reveal how much of a hash matched or which record did.
 */
export function verifyToken(token: string | undefined, records: readonly TokenRecord[]): Principal | undefined {
  if (token === undefined) return undefined;
  const presented = Buffer.from(hashToken(token), "hex");
  let found: TokenRecord | undefined;
  for (const record of records) {
    if (timingSafeEqual(presented, Buffer.from(record.sha256, "hex")) && found === undefined) found = record;
  }
  return found === undefined ? undefined : { tokenId: found.id, scopes: found.scopes };
}

/**
 * Where token records are looked up: the tokens table on AWS (tokenTable.ts), the configured
 * records in memory locally (`recordLookup`). Lookups may be cached: a revoked token stops
 * working within the store's cache age.
 */
export interface TokenLookup {
  /** The record whose `sha256` is this hash, if any. */
  byHash(sha256: string): Promise<TokenRecord | undefined>;
  /** The records with this id: one, unless an operator wrote two items with the same id. */
  byId(id: string): Promise<readonly TokenRecord[]>;
}

/**
 * A lookup over records held in memory (the local runtime, tests). Every record is compared, each
 * in constant time (as verifyToken does), so the time taken does not reveal a stored hash.
 */
export function recordLookup(records: readonly TokenRecord[]): TokenLookup {
  return {
    byHash: async (sha256) => {
      const presented = Buffer.from(sha256, "hex");
      let found: TokenRecord | undefined;
      for (const record of records) {
        const stored = Buffer.from(record.sha256, "hex");
        if (stored.length === presented.length && timingSafeEqual(presented, stored) && found === undefined)
          found = record;
      }
      return found;
    },
    byId: async (id) => records.filter((record) => record.id === id),
  };
}

/** Finds the principal of a presented token by its hash; undefined for a missing or unknown one. */
export async function lookUpToken(token: string | undefined, tokens: TokenLookup): Promise<Principal | undefined> {
  if (token === undefined) return undefined;
  const sha256 = hashToken(token);
  const record = await tokens.byHash(sha256);
  // The store was asked for exactly this hash; a record for another one is not this token's.
  if (record === undefined || record.sha256 !== sha256) return undefined;
  return { tokenId: record.id, scopes: record.scopes };
}

/** `write` grants everything; `read` grants reads and evaluation; `evaluate` grants evaluation only. */
export const grants = (scopes: readonly Scope[], required: Scope): boolean =>
  scopes.includes("write") || scopes.includes(required) || (required === "evaluate" && scopes.includes("read"));

/**
 * Whether a principal sees every flag (a server key), or only the flags with `clientSide: true`
 * through OFREP's answer fields (a client key: `evaluate` without `read` or `write`).
 */
export const isClientKey = (scopes: readonly Scope[]): boolean => !grants(scopes, "read");

/** The authorizer context API Gateway passes to integrations: string values only. */
export function principalContext(principal: Principal): { tokenId: string; scopes: string } {
  return { tokenId: principal.tokenId, scopes: principal.scopes.join(" ") };
}

/** Reads the principal back out of an authorizer context; undefined when there is none. */
export function principalFromContext(context: Record<string, unknown> | null | undefined): Principal | undefined {
  const tokenId = context?.tokenId;
  const scopes = context?.scopes;
  if (typeof tokenId !== "string" || tokenId === "" || typeof scopes !== "string") return undefined;
  return { tokenId, scopes: scopes.split(" ").filter((s): s is Scope => SCOPES.includes(s as Scope)) };
}
