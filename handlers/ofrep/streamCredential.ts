import { createHmac, timingSafeEqual } from "node:crypto";
import type { Principal, TokenRecord } from "../auth/tokens";

/**
 * Length of a credential window. A credential issued in window k expires at the end of window
 * k + 1, so it is valid for 15 to 30 minutes and the same all through window k: the bulk
 * response's body (its stream URL included) and so its ETag stay the same within a window, and
 * `If-None-Match` keeps answering 304.
 */
export const CREDENTIAL_WINDOW_SECONDS = 15 * 60;

/** Domain separation: this HMAC key signs nothing else, but the message says what it is for. */
const PURPOSE = "ofrep-events";

const mac = (record: TokenRecord, expires: number): Buffer =>
  createHmac("sha256", Buffer.from(record.sha256, "hex")).update(`${PURPOSE}|${record.id}|${expires}`).digest();

/**
 * The `c` parameter of a stream URL for a token: `<tokenId>.<expiresEpochSec>.<base64url HMAC>`,
 * keyed by the token record's stored SHA-256, which only the service holds (the token itself never
 * appears in a URL). It grants the event stream only, and only while the token exists: revoking
 * or rotating the token changes or removes the key.
 */
export function issueStreamCredential(record: TokenRecord, nowMs: number): string {
  const window = Math.floor(nowMs / 1000 / CREDENTIAL_WINDOW_SECONDS);
  const expires = (window + 2) * CREDENTIAL_WINDOW_SECONDS;
  return `${record.id}.${expires}.${mac(record, expires).toString("base64url")}`;
}

/**
 * The token id a credential names, when it is well formed and not expired (nothing is verified
 * yet: the caller looks up that id's record and passes it to verifyStreamCredential). Token ids
 * may hold dots, so the credential is read from the right.
 */
export function streamCredentialTokenId(credential: string | undefined, nowMs: number): string | undefined {
  return parse(credential, nowMs)?.id;
}

function parse(credential: string | undefined, nowMs: number) {
  if (credential === undefined || credential.length > 256) return undefined;
  const parts = credential.split(".");
  if (parts.length < 3) return undefined;
  const signature = parts.pop() as string;
  const expiresText = parts.pop() as string;
  const id = parts.join(".");
  if (!/^[0-9]{1,12}$/.test(expiresText) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return undefined;
  // A token id as configured (toTokenRecords): nothing else is looked up.
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) return undefined;
  const expires = Number(expiresText);
  const now = nowMs / 1000;
  // Never issued with more than two windows ahead: a longer one is not ours, whatever it signs.
  if (expires <= now || expires > now + 2 * CREDENTIAL_WINDOW_SECONDS) return undefined;
  // Compared as text: the 43rd character carries 2 unused bits, so decoding first would accept
  // four spellings of one signature (a changed last character that still verifies).
  return { id, expires, signature: Buffer.from(signature, "ascii") };
}

/**
 * The token a credential was issued for, or undefined when it is malformed, expired, forged, or
 * its token no longer exists. `records` are the candidates: every record, or those with the id
 * the credential names (streamCredentialTokenId).
 */
export function verifyStreamCredential(
  credential: string | undefined,
  records: readonly TokenRecord[],
  nowMs: number,
): Principal | undefined {
  const parsed = parse(credential, nowMs);
  if (parsed === undefined) return undefined;
  const record = records.find(
    (candidate) =>
      candidate.id === parsed.id &&
      timingSafeEqual(parsed.signature, Buffer.from(mac(candidate, parsed.expires).toString("base64url"), "ascii")),
  );
  return record === undefined ? undefined : { tokenId: record.id, scopes: record.scopes };
}
