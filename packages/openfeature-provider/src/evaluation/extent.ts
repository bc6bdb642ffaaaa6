import { Form } from "./cost";
import { BOUNDS } from "./limits";

/**
 * What a value computed by a rule can be, at most: bytes (characters of a string, JSON bytes of
 * anything else) and elements of an array, each as a function of the context (see `Form`).
 */
export interface Extent {
  size: Form;
  count: Form;
  /** Whether it may be a string (an array's `in` scans elements; a string's searches text). */
  text?: boolean;
  /** Whether it may be an array (`cat`, `sem_ver` and the result turn one into text). */
  list?: boolean;
}

/** The longest flag key (CONTRACT.md: `flagName`), which flagd-core puts in `$flagd.flagKey`. */
export const FLAG_KEY_LENGTH = 128;

/** A context key's value: a string of its bytes, or an array of up to half as many elements. */
export const contextValue = (key: string): Extent => ({
  size: Form.key(key),
  count: Form.key(key, 0.5),
  text: true,
  list: true,
});
/** The whole context. */
export const wholeContext = (): Extent => ({
  size: Form.of(BOUNDS.contextBytes),
  count: Form.of(BOUNDS.contextBytes / 2),
  text: true,
  list: true,
});
export const scalar = (): Extent => ({ size: Form.of(1), count: Form.of(1) });
export const literalText = (length: number): Extent => ({
  size: Form.of(Math.max(1, length)),
  count: Form.of(length),
  text: true,
});

/** What either of some values can be. */
export const widest = (extents: readonly Extent[]): Extent => ({
  size: Form.max(extents.map((e) => e.size)),
  count: Form.max(extents.map((e) => e.count)),
  text: extents.some((e) => e.text === true),
  list: extents.some((e) => e.list === true),
});

/** Bytes of the operands that may be arrays: what turning them into text walks. */
export const listBytes = (extents: readonly Extent[]): Form =>
  Form.sum(extents.filter((e) => e.list === true).map((e) => e.size));

/** What a part of a rule costs, and what it computes. */
export interface Outcome {
  cost: Form;
  extent: Extent;
}

export const constant = (cost: number, extent: Extent = scalar()): Outcome => ({ cost: Form.of(cost), extent });
