import type { Flag } from "./protocol";

/**
 * The variant a plain flag (one with only `value`) becomes in flagd's model: its one variant and
 * its default, so it evaluates to the value with reason STATIC. Named as the service names it in
 * OFREP answers, so both report the same variant.
 */
export const PLAIN_FLAG_VARIANT = "default";

/** One flag of a flagd flag configuration (flagd's `flags.<key>`). */
export interface FlagdFlag {
  state: "ENABLED" | "DISABLED";
  variants: Record<string, unknown>;
  defaultVariant: string | null;
  targeting?: unknown;
  metadata?: Record<string, string | number | boolean>;
}

/**
 * A contract flag as flagd sees it. A flag with `variants` keeps its variants, default variant,
 * targeting and metadata as they are (flagd semantics); a plain flag becomes one variant holding
 * its value. Description, timestamps and authors do not affect evaluation and are left out, so
 * they do not count as a change either.
 */
export function toFlagdFlag(flag: Flag): FlagdFlag {
  const state = flag.state === "DISABLED" ? "DISABLED" : "ENABLED";
  const metadata = flag.metadata === undefined ? {} : { metadata: flag.metadata };
  if (flag.variants !== undefined) {
    return {
      state,
      variants: flag.variants,
      defaultVariant: flag.defaultVariant ?? null,
      ...(flag.targeting === undefined || flag.targeting === null ? {} : { targeting: flag.targeting }),
      ...metadata,
    };
  }
  if (flag.value === undefined) return { state, variants: {}, defaultVariant: null, ...metadata };
  return { state, variants: { [PLAIN_FLAG_VARIANT]: flag.value }, defaultVariant: PLAIN_FLAG_VARIANT, ...metadata };
}
