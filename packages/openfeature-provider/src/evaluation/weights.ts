/**
 * Nanoseconds json-logic-engine (in flagd-core) spends, per operator, per element or per byte of
 * what it works on: the fastest of repeated runs on this project's machines (2 cores, Node 20.20,
 * 64 KiB contexts), rounded up about 1.5× (`npm run bench -- evaluation-bounds` measures the
 * accepted worst cases against the model).
 */
export const NS = {
  /** Any operator, fixed. */
  node: 5,
  /** An element of an array literal. */
  literalElement: 2,
  /** Comparisons, per byte of operands (equal-length strings are compared; ropes flattened). */
  compare: 0.5,
  /** Arithmetic, per byte (an array operand fails fast). */
  arithmetic: 1,
  /** max/min, per element. */
  minMax: 2,
  /** `in` over an array, per element. */
  inElement: 1,
  /** `in` over a string, per byte of haystack and of needle (up to `inNeedleCap`). */
  inSearch: 0.04,
  inNeedleCap: 1000,
  /** `cat`, per byte joined (strings are ropes). */
  catChar: 1,
  /**
   * An array turned into text (`cat`, `sem_ver`, `in` over a string, a rule's result), per byte:
   * measured 2.9 for one-digit numbers, the worst of the primitives OFREP lets arrays hold.
   */
  coerceByte: 4.5,
  /** substr, per byte. */
  substr: 1,
  /** merge, per element copied (measured 44). */
  merge: 60,
  /** missing / missing_some, per key looked up (measured 62). */
  missing: 75,
  /** starts_with / ends_with, per byte. */
  affix: 1,
  /** sem_ver: fixed (semver parses at most 256 characters), per byte of regex. */
  semVer: 300,
  semVerChar: 0.1,
  /** fractional: fixed, and per byte hashed (measured 1.7). */
  fractional: 300,
  fractionalChar: 3,
  /** Iteration, per element, besides its body: all/some/none, map, filter, reduce. */
  every: 8,
  map: 35,
  filter: 70,
  reduce: 8,
  /** A rule's string or number result turned into a variant name, per byte. */
  result: 1,
} as const;

/** JsonLogic's operators as flagd documents them (its targeting schema), and flagd's own. */
export const OPERATORS: Readonly<Record<string, boolean>> = {
  var: true,
  missing: true,
  missing_some: true,
  if: true,
  "==": true,
  "===": true,
  "!=": true,
  "!==": true,
  "!": true,
  "!!": true,
  or: true,
  and: true,
  ">": true,
  ">=": true,
  "<": true,
  "<=": true,
  max: true,
  min: true,
  "+": true,
  "-": true,
  "*": true,
  "/": true,
  "%": true,
  map: true,
  reduce: true,
  filter: true,
  all: true,
  none: true,
  some: true,
  merge: true,
  in: true,
  cat: true,
  substr: true,
  fractional: true,
  sem_ver: true,
  starts_with: true,
  ends_with: true,
};

export const ITERATORS: Readonly<Record<string, boolean>> = {
  map: true,
  filter: true,
  all: true,
  none: true,
  some: true,
  reduce: true,
};

/** Property names that lead to a prototype rather than to data. */
export const PROTOTYPE_NAMES: Readonly<Record<string, boolean>> = {
  ["__proto__"]: true, // computed: a literal __proto__ key would set the prototype instead
  constructor: true,
  prototype: true,
};
