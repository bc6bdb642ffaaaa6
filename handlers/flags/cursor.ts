import { serviceError } from "../errors";
import { FLAG_NAME_PATTERN } from "./validation";

/**
 * An opaque page cursor holding one position (base64url JSON `{field: position}`), and its
 * reverse, which refuses with a 400 anything it did not produce (never a query from a forged key).
 */
function cursorCodec<T>(field: string, isPosition: (value: unknown) => value is T) {
  return {
    encode: (position: T): string => Buffer.from(JSON.stringify({ [field]: position }), "utf8").toString("base64url"),
    decode: (cursor: string): T => {
      try {
        const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
        if (parsed !== null && typeof parsed === "object" && field in parsed) {
          const position = (parsed as Record<string, unknown>)[field];
          if (isPosition(position)) return position;
        }
      } catch {
        // Falls through to the one error below: a cursor is either ours or invalid.
      }
      throw serviceError("VALIDATION_FAILED", "cursor is not one this service issued");
    },
  };
}

const flagPage = cursorCodec("k", (key): key is string => typeof key === "string" && FLAG_NAME_PATTERN.test(key));
const historyPage = cursorCodec(
  "s",
  (seq): seq is number => typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 1,
);

/** A flag-list cursor: the last flag name of the previous page. */
export const encodeCursor = flagPage.encode;
export const decodeCursor = flagPage.decode;
/** A history cursor: the position (`seq`) of the last entry of the previous page. */
export const encodeHistoryCursor = historyPage.encode;
export const decodeHistoryCursor = historyPage.decode;
