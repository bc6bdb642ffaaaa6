import type { Flag } from "../../../handlers/flags/model";

/** What the console knows of the flags, kept current by the WebSocket (CONTRACT.md, "WebSocket"). */
export interface LiveState {
  flags: Record<string, Flag>;
  /** Parts of a snapshot still being received, by part number. */
  parts: Record<number, Flag[]>;
  /** The last change that arrived live, for the visible cue. */
  lastChange?: LiveChange;
  /**
   * The shared evaluators as the WebSocket last carried them (a snapshot's first part, then each
   * `evaluators.updated`): a new object whenever they change, so views can follow them.
   */
  evaluators?: Record<string, unknown>;
}

export interface LiveChange {
  flagName: string;
  kind: "created" | "updated" | "deleted";
  version: number;
  actor: string | null;
}

export const emptyLive = (): LiveState => ({ flags: {}, parts: {} });

/** Keeps the highest version of each flag: messages and REST reads may arrive in any order. */
function newer(current: Flag | undefined, incoming: Flag): Flag {
  return current !== undefined && current.version > incoming.version ? current : incoming;
}

/** Flags read over REST (the first page load, a save's answer) merged into what is known. */
export function withFlags(state: LiveState, flags: Flag[]): LiveState {
  const next = { ...state.flags };
  for (const flag of flags) next[flag.flagName] = newer(next[flag.flagName], flag);
  return { ...state, flags: next };
}

/** A flag known to be deleted (by this console's own DELETE). */
export function withoutFlag(state: LiveState, flagName: string): LiveState {
  const next = { ...state.flags };
  delete next[flagName];
  return { ...state, flags: next };
}

/**
 * A snapshot replaces the set, keeping the newest version of each flag. A known flag it brings
 * at a higher version changed while no message could say so (a snapshot read after a change
 * whose own message then carries nothing new): that is a live change too, and gets the cue.
 */
function applySnapshot(state: LiveState, flags: Flag[]): LiveState {
  const next: Record<string, Flag> = {};
  let lastChange = state.lastChange;
  for (const flag of flags) {
    const known = state.flags[flag.flagName];
    next[flag.flagName] = newer(known, flag);
    if (known !== undefined && flag.version > known.version)
      lastChange = { flagName: flag.flagName, kind: "updated", version: flag.version, actor: flag.updatedBy ?? null };
  }
  return { ...state, flags: next, parts: {}, lastChange };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Applies one server message. A snapshot in several parts is applied once all of them are held;
 * it replaces the set (a flag missing from it was deleted). Unknown messages change nothing.
 */
export function reduceLive(state: LiveState, message: unknown): LiveState {
  if (message === null || typeof message !== "object") return state;
  const m = message as Record<string, unknown>;
  switch (m.type) {
    case "snapshot": {
      const flags = Array.isArray(m.flags) ? (m.flags as Flag[]) : [];
      const parts = typeof m.parts === "number" ? m.parts : 1;
      const part = typeof m.part === "number" ? m.part : 1;
      // The first part carries the evaluators.
      const current = part === 1 && isRecord(m.evaluators) ? { ...state, evaluators: m.evaluators } : state;
      if (parts <= 1) return applySnapshot(current, flags);
      // A part 1 starts a new snapshot: parts of an older one are dropped.
      const held = { ...(part === 1 ? {} : current.parts), [part]: flags };
      if (Object.keys(held).length < parts) return { ...current, parts: held };
      return applySnapshot(current, Object.values(held).flat());
    }
    case "evaluators.updated":
      return isRecord(m.evaluators) ? { ...state, evaluators: m.evaluators } : state;
    case "flag.created":
    case "flag.updated": {
      const flag = m.flag as Flag;
      const current = state.flags[flag.flagName];
      if (current !== undefined && current.version >= flag.version) return state;
      return {
        ...state,
        flags: { ...state.flags, [flag.flagName]: flag },
        lastChange: {
          flagName: flag.flagName,
          kind: m.type === "flag.created" ? "created" : "updated",
          version: flag.version,
          actor: flag.updatedBy ?? flag.createdBy,
        },
      };
    }
    case "flag.deleted": {
      const flagName = String(m.flagName);
      if (state.flags[flagName] === undefined) return state;
      return {
        ...withoutFlag(state, flagName),
        lastChange: { flagName, kind: "deleted", version: Number(m.version), actor: null },
      };
    }
    default:
      return state;
  }
}
