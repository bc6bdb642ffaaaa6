import { useCallback, useEffect, useReducer, useRef, useState } from "preact/hooks";
import { type Api, makeApi, type Scope, websocketUrl } from "./api";
import { emptyLive, type LiveState, reduceLive, withFlags, withoutFlag } from "./logic/live";
import type { Flag } from "./logic/flags";

/** Shown beside every write control a read-only token cannot use. */
export const READ_ONLY_REASON =
  "Your token can only read: sign in with a token that has the write scope to change flags.";

/** sessionStorage only (CONTRACT.md): the token is gone when the tab closes, and never in a URL. */
const TOKEN_KEY = "feature-flags-token";

export const storedToken = (): string => sessionStorage.getItem(TOKEN_KEY) ?? "";
export const storeToken = (token: string) => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

type LiveAction =
  | { type: "message"; message: unknown }
  | { type: "flags"; flags: Flag[] }
  | { type: "deleted"; flagName: string }
  | { type: "reset" };

function liveReducer(state: LiveState, action: LiveAction): LiveState {
  switch (action.type) {
    case "message":
      return reduceLive(state, action.message);
    case "flags":
      return withFlags(state, action.flags);
    case "deleted":
      return withoutFlag(state, action.flagName);
    case "reset":
      return emptyLive();
  }
}

export type Connection = "connecting" | "live" | "offline";

/** The flag set, loaded over REST and then kept current by the WebSocket (reconnecting). */
export function useLiveFlags(token: string | undefined) {
  const [live, dispatch] = useReducer(liveReducer, undefined, emptyLive);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [loadError, setLoadError] = useState<string>();
  useEffect(() => {
    dispatch({ type: "reset" });
    if (token === undefined) return;
    let socket: WebSocket | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    let delay = 500;
    // Each page as it arrives: with thousands of flags the first rows show long before the last page.
    makeApi(token)
      .listFlags((flags) => dispatch({ type: "flags", flags }))
      .catch((error: Error) => setLoadError(error.message));
    const connect = async () => {
      const url = await websocketUrl();
      if (closed) return;
      setConnection("connecting");
      socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
      socket.onopen = () => {
        delay = 500;
        setConnection("live");
      };
      socket.onmessage = (event) => {
        try {
          dispatch({ type: "message", message: JSON.parse(String(event.data)) });
        } catch {
          // Not JSON: nothing the console can apply.
        }
      };
      socket.onclose = () => {
        if (closed) return;
        setConnection("offline");
        retry = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10_000);
      };
    };
    void connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      socket?.close();
    };
  }, [token]);
  const known = useCallback((flags: Flag[]) => dispatch({ type: "flags", flags }), []);
  const gone = useCallback((flagName: string) => dispatch({ type: "deleted", flagName }), []);
  return { live, connection, loadError, known, gone };
}

/** Flags that changed live in the last few seconds: the list highlights them. */
export function useRecentChanges(live: LiveState, ms = 3000): Set<string> {
  const [recent, setRecent] = useState<Set<string>>(new Set());
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  useEffect(() => {
    const change = live.lastChange;
    if (change === undefined) return;
    setRecent((current) => new Set(current).add(change.flagName));
    clearTimeout(timers.current.get(change.flagName));
    timers.current.set(
      change.flagName,
      setTimeout(
        () =>
          setRecent((current) => {
            const next = new Set(current);
            next.delete(change.flagName);
            return next;
          }),
        ms,
      ),
    );
  }, [live.lastChange, ms]);
  return recent;
}

export interface Session {
  token: string;
  api: Api;
  scope: Scope;
  allowFlagDeletion: boolean | undefined;
}
