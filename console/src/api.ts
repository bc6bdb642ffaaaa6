import type { EvaluatorVersion } from "../../handlers/evaluators/model";
import type { Flag } from "../../handlers/flags/model";
import type { Rollout } from "../../handlers/rollouts/model";
import type { Schedule } from "../../handlers/schedules/model";
import type { RolloutRequest } from "./logic/rollout";

export type { Rollout, Schedule };

/** An answer of the API other than 2xx, with the contract's error code when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** An evaluator as the API returns it; a history entry's has no `usedByFlags`. */
export type Evaluator = EvaluatorVersion & {
  /** How many flags reference it (not part of a version: history entries have none). */
  usedByFlags?: number;
};

export interface EvaluatorHistoryEntry {
  version: number;
  at: string;
  actor: string | null;
  /** The evaluator as of this version; null for the entry that records its deletion. */
  evaluator: Evaluator | null;
}

export interface HistoryEntry {
  version: number;
  at: string;
  actor: string | null;
  flag: Flag | null;
}

export interface Evaluation {
  key: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorDetails?: string;
}

export type Scope = "read" | "write";

/**
 * Where the REST API is, from the page's own address: the console is served at the API's URL +
 * `/console/`, so `/dev/console/` on AWS (the stage) means `/dev`, and `/console/` locally means ``.
 */
export function apiBase(pathname: string): string {
  return pathname.replace(/\/console(\/.*)?$/, "");
}

/** The REST API on this origin, every call carrying the user's token. */
export function makeApi(token: string) {
  const base = apiBase(location.pathname);
  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
    if (!response.ok) {
      const error = (json?.error ?? {}) as { code?: string; message?: string };
      throw new ApiError(response.status, error.code ?? String(response.status), error.message ?? response.statusText);
    }
    return json as T;
  }
  const flagPath = (name: string) => `/flags/${encodeURIComponent(name)}`;
  const evaluatorPath = (name: string) => `/evaluators/${encodeURIComponent(name)}`;
  return {
    /** Every flag, a page of 100 at a time; `onPage` gets each page as it arrives (the list shows the first at once). */
    async listFlags(onPage?: (flags: Flag[]) => void): Promise<Flag[]> {
      const flags: Flag[] = [];
      let cursor: string | undefined;
      do {
        const page = await call<{ flags: Flag[]; nextCursor?: string }>(
          "GET",
          `/flags?limit=100${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        flags.push(...page.flags);
        onPage?.(page.flags);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return flags;
    },
    getFlag: (name: string) => call<Flag>("GET", flagPath(name)),
    createFlag: (body: Record<string, unknown>) => call<Flag>("POST", "/flags", body),
    updateFlag: (name: string, body: Record<string, unknown>, ifMatch: number) =>
      call<Flag>("PUT", flagPath(name), body, { "If-Match": String(ifMatch) }),
    deleteFlag: (name: string) => call<void>("DELETE", flagPath(name)),
    history: (name: string) =>
      call<{ versions: HistoryEntry[]; nextCursor?: string }>("GET", `${flagPath(name)}/history?limit=100`),
    evaluators: () => call<{ evaluators: Evaluator[] }>("GET", "/evaluators"),
    getEvaluator: (name: string) => call<Evaluator>("GET", evaluatorPath(name)),
    /** With `ifMatch`, only over that version (412 VERSION_CONFLICT when someone changed it since). */
    putEvaluator: (name: string, expression: unknown, ifMatch?: number) =>
      call<Evaluator>(
        "PUT",
        evaluatorPath(name),
        { expression },
        ifMatch === undefined ? {} : { "If-Match": String(ifMatch) },
      ),
    evaluatorHistory: (name: string) =>
      call<{ versions: EvaluatorHistoryEntry[]; nextCursor?: string }>(
        "GET",
        `${evaluatorPath(name)}/history?limit=100`,
      ),
    settings: () => call<{ allowFlagDeletion: boolean }>("GET", "/settings"),
    schedules: (name: string) => call<{ schedules: Schedule[] }>("GET", `${flagPath(name)}/schedules`),
    /** `change` is a PUT body; `ifMatch` the version it was made against. */
    createSchedule: (name: string, body: { at: string; change: Record<string, unknown>; ifMatch?: number }) =>
      call<Schedule>("POST", `${flagPath(name)}/schedules`, body),
    cancelSchedule: (name: string, id: string) =>
      call<void>("DELETE", `${flagPath(name)}/schedules/${encodeURIComponent(id)}`),
    /** The flag's latest rollout; 404 ROLLOUT_NOT_FOUND when it never had one. */
    rollout: (name: string) => call<Rollout>("GET", `${flagPath(name)}/rollout`),
    startRollout: (name: string, body: RolloutRequest) => call<Rollout>("PUT", `${flagPath(name)}/rollout`, body),
    abortRollout: (name: string) => call<Rollout>("POST", `${flagPath(name)}/rollout/abort`),
    evaluate: async (key: string, context: unknown): Promise<Evaluation> => {
      // OFREP answers errors with its own body ({key, errorCode, errorDetails}), shown as they are.
      const response = await fetch(`${base}/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ context }),
      });
      return (await response.json()) as Evaluation;
    },
    /**
     * The token's scope, learnt without changing anything: a create with an empty body is refused
     * 403 FORBIDDEN for a read-only token before it is read, and 400 for a token that may write.
     * A token the service does not know is a 401 (thrown).
     */
    async scope(): Promise<Scope> {
      try {
        await call("POST", "/flags", {});
        return "write";
      } catch (error) {
        if (error instanceof ApiError && error.status === 403) return "read";
        if (error instanceof ApiError && error.status === 400) return "write";
        throw error;
      }
    },
  };
}

export type Api = ReturnType<typeof makeApi>;

/**
 * The WebSocket URL: `config.json` beside the page names it where it is on another host (on AWS,
 * the stack's websocketUrl, written at `pulumi up`); otherwise it is this origin's `/ws`.
 */
export async function websocketUrl(): Promise<string> {
  try {
    const response = await fetch(`${apiBase(location.pathname)}/console/config.json`, { cache: "no-cache" });
    if (response.ok) {
      const config = (await response.json()) as { websocketUrl?: string };
      if (typeof config.websocketUrl === "string" && config.websocketUrl !== "") return config.websocketUrl;
    }
  } catch {
    // No config: the same origin serves the WebSocket (the local runtime).
  }
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}
