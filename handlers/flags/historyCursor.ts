import { serviceError } from "../errors";

/** A history page cursor: the position of the last entry of the previous page (base64url JSON). */
export function encodeHistoryCursor(lastSeq: number): string {
  return Buffer.from(JSON.stringify({ s: lastSeq }), "utf8").toString("base64url");
}

/** Reverses encodeHistoryCursor; anything it did not produce is a 400. */
export function decodeHistoryCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (parsed !== null && typeof parsed === "object" && "s" in parsed) {
      const seq = (parsed as { s: unknown }).s;
      if (typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 1) return seq;
    }
  } catch {
    // Falls through to the one error below: a cursor is either ours or invalid.
  }
  throw serviceError("VALIDATION_FAILED", "cursor is not one this service issued");
}
