/** What the service's WebSocket sends (its CONTRACT, "WebSocket" and "Flag"). */

/** A flag as the service sends it; fields this package does not read are kept as they are. */
export interface Flag {
  flagName: string;
  /** A plain flag's value; a rich flag's default variant's value. */
  value?: unknown;
  version: number;
  state?: "ENABLED" | "DISABLED";
  variants?: Record<string, unknown>;
  defaultVariant?: string | null;
  /** JsonLogic with flagd's operators and `{"$ref": "<evaluator>"}`. */
  targeting?: unknown;
  metadata?: Record<string, string | number | boolean>;
  [field: string]: unknown;
}

/** Shared evaluators by name (flagd's `$evaluators`). */
export type Evaluators = Record<string, unknown>;

export interface SnapshotMessage {
  type: "snapshot";
  /** 1-based; absent on servers that send one frame (then it is part 1 of 1). */
  part?: number;
  parts?: number;
  flags: Flag[];
  /** In the first part. */
  evaluators?: Evaluators;
}

export type ChangeMessage =
  | { type: "flag.created"; flag: Flag }
  | { type: "flag.updated"; flag: Flag }
  | { type: "flag.deleted"; flagName: string; version: number }
  | { type: "evaluators.updated"; evaluators: Evaluators };

export type ServerMessage = SnapshotMessage | ChangeMessage | { type: "pong" } | { type: "error"; error?: unknown };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isFlag = (value: unknown): value is Flag =>
  isObject(value) && typeof value.flagName === "string" && typeof value.version === "number";

/**
 * Parses one frame, or returns undefined for anything that is not a message this package knows in
 * the shape it expects: a newer server may send more, and nothing it sends may break a client.
 */
export function parseMessage(data: string): ServerMessage | undefined {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(message)) return undefined;
  switch (message.type) {
    case "snapshot": {
      const { part = 1, parts = 1, flags, evaluators } = message;
      const wellFormed =
        Number.isInteger(part) &&
        Number.isInteger(parts) &&
        (part as number) >= 1 &&
        (part as number) <= (parts as number) &&
        Array.isArray(flags) &&
        flags.every(isFlag) &&
        (evaluators === undefined || isObject(evaluators));
      return wellFormed ? (message as unknown as SnapshotMessage) : undefined;
    }
    case "flag.created":
    case "flag.updated":
      return isFlag(message.flag) ? (message as unknown as ChangeMessage) : undefined;
    case "flag.deleted":
      return typeof message.flagName === "string" && typeof message.version === "number"
        ? (message as unknown as ChangeMessage)
        : undefined;
    case "evaluators.updated":
      return isObject(message.evaluators) ? (message as unknown as ChangeMessage) : undefined;
    case "pong":
    case "error":
      return message as ServerMessage;
    default:
      return undefined;
  }
}
