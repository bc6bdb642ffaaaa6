// node:util for the browser bundle: handlers/flags/definition.ts compares JSON values with
// isDeepStrictEqual, which for JSON values means the same as fast-deep-equal.
import equal from "fast-deep-equal";

export const isDeepStrictEqual = (a: unknown, b: unknown): boolean => equal(a, b);
