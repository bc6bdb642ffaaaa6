import type { Flag } from "../flags/model";

/**
 * The most bytes one snapshot frame may hold. API Gateway caps a WebSocket message (one
 * PostToConnection) at 128 KB; 128,000 bytes stays under both readings of that (KB and KiB).
 */
export const MAX_FRAME_BYTES = 128_000;

/** Shared evaluators by name (flagd's `$evaluators`): JsonLogic expressions flags `$ref`. */
export type Evaluators = Record<string, unknown>;

/** Room kept for `"part":N,"parts":N` whatever N turns out to be (up to 10 digits each). */
const NUMBERING_RESERVE = '"part":,"parts":,'.length + 20;

/**
 * Serializes a snapshot as the frames the contract describes: `{"type": "snapshot", "part": i,
 * "parts": n, "flags": [...]}`, each at most `maxBytes` of UTF-8, flags in the order given, the
 * shared evaluators in the first part. A small flag set is one frame, `part: 1, parts: 1`, so a
 * client that reads a single `snapshot` message keeps working.
 *
 * Each flag is serialized once and packed greedily; a flag alone is always far below the limit
 * (values are capped at 32 KiB), and evaluators too large for a frame are refused rather than
 * sent where API Gateway would drop them.
 */
export function snapshotFrames(flags: readonly Flag[], evaluators: Evaluators, maxBytes = MAX_FRAME_BYTES): string[] {
  const evaluatorsJson = JSON.stringify(evaluators);
  const envelope = (i: number) =>
    Buffer.byteLength('{"type":"snapshot","flags":[]}') +
    NUMBERING_RESERVE +
    (i === 0 ? Buffer.byteLength(`,"evaluators":${evaluatorsJson}`) : 0);
  if (envelope(0) > maxBytes) {
    throw new RangeError(`the shared evaluators (${envelope(0)} bytes) do not fit one ${maxBytes}-byte frame`);
  }

  const groups: string[][] = [[]];
  let size = envelope(0);
  for (const flag of flags) {
    const json = JSON.stringify(flag);
    const bytes = Buffer.byteLength(json) + 1; // and its comma
    if (size + bytes > maxBytes && groups[groups.length - 1].length > 0) {
      groups.push([]);
      size = envelope(groups.length - 1);
    }
    if (size + bytes > maxBytes) throw new RangeError(`flag '${flag.flagName}' alone exceeds a ${maxBytes}-byte frame`);
    groups[groups.length - 1].push(json);
    size += bytes;
  }
  const parts = groups.length;
  return groups.map(
    (group, i) =>
      `{"type":"snapshot","part":${i + 1},"parts":${parts},` +
      (i === 0 ? `"evaluators":${evaluatorsJson},` : "") +
      `"flags":[${group.join(",")}]}`,
  );
}
