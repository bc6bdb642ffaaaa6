import { serviceError } from "../errors";
import { FLAG_NAME_PATTERN } from "./validation";

/** A page cursor: the last flag name of the previous page, opaque to clients (base64url JSON). */
export function encodeCursor(lastFlagName: string): string {
  return Buffer.from(JSON.stringify({ k: lastFlagName }), "utf8").toString("base64url");
}

/** Reverses encodeCursor; anything it did not produce is a 400, never a scan from a forged key. */
export function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (parsed !== null && typeof parsed === "object" && "k" in parsed) {
      const key = (parsed as { k: unknown }).k;
      if (typeof key === "string" && FLAG_NAME_PATTERN.test(key)) return key;
    }
  } catch {
    // Falls through to the one error below: a cursor is either ours or invalid.
  }
  throw serviceError("VALIDATION_FAILED", "cursor is not one this service issued");
}
