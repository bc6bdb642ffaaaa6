import { serviceError } from "../errors";
import { type ApiResponse, parseJsonBody, type RouteHandler } from "../http";
import { decodeCursor } from "./cursor";
import type { Flag } from "./model";
import type { FlagStore } from "./store";
import { flagSchemas, parseCreateFlag, parseFlagName, parseIfMatch, parseLimit, parseUpdateFlag } from "./validation";

const flagResponse = (status: number, flag: Flag, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  body: flag,
  // The version doubles as an ETag so clients can send it straight back as If-Match.
  headers: { ETag: `"${flag.version}"`, ...headers },
});

/**
 * `GET /health`: 200 once the flag store answers a read (one `Scan` of a couple of items, which
 * the read function may already do); when DynamoDB cannot be reached the read fails and the proxy
 * handler answers 503 DEPENDENCY_UNAVAILABLE, as it does for every route.
 */
export function makeHealthRoutes({ store }: { store: FlagStore }): Record<string, RouteHandler> {
  return {
    "GET /health": async () => {
      await store.list(1);
      return { status: 200, body: { status: "ok" } };
    },
  };
}

/** `GET /flags` and `GET /flags/{flagName}`. */
export function makeReadRoutes({ store }: { store: FlagStore }): Record<string, RouteHandler> {
  return {
    ...makeHealthRoutes({ store }),
    "GET /flags": async (request) => {
      const limit = parseLimit(request.query.limit);
      const cursor = request.query.cursor;
      const page = await store.list(limit, cursor === undefined ? undefined : decodeCursor(cursor));
      return { status: 200, body: page };
    },
    "GET /flags/{flagName}": async (request) => {
      const flag = await store.read(parseFlagName(request.params.flagName));
      return flagResponse(200, flag);
    },
  };
}

/** `POST /flags` and `PUT /flags/{flagName}`. */
export function makeWriteRoutes({ store }: { store: FlagStore }): Record<string, RouteHandler> {
  // Once per factory (per Lambda instance), not per request.
  const schemas = flagSchemas();
  return {
    "POST /flags": async (request) => {
      const input = parseCreateFlag(parseJsonBody(request), schemas);
      const flag = await store.create(input, request.actor);
      return flagResponse(201, flag, { Location: `${request.basePath}/flags/${encodeURIComponent(flag.flagName)}` });
    },
    "PUT /flags/{flagName}": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const expectedVersion = parseIfMatch(request.header("If-Match"));
      const input = parseUpdateFlag(parseJsonBody(request), flagName, schemas);
      if (input.flagName !== undefined && input.flagName !== flagName) {
        throw serviceError("NAME_MISMATCH", `body names '${input.flagName}' but the path names '${flagName}'`);
      }
      const flag = await store.update(flagName, input, request.actor, expectedVersion);
      return flagResponse(200, flag);
    },
  };
}

export interface DeleteRouteDeps {
  store: FlagStore;
  /** Whether deletion is switched on (the `allow-flag-deletion` parameter); may be cached. */
  isDeletionAllowed: () => Promise<boolean>;
  /** After a flag is deleted: what goes with it (its pending schedules are cancelled). */
  onDeleted?: (flagName: string, actor: string | null) => Promise<unknown>;
}

/** `DELETE /flags/{flagName}`. */
export function makeDeleteRoutes({
  store,
  isDeletionAllowed,
  onDeleted,
}: DeleteRouteDeps): Record<string, RouteHandler> {
  return {
    "DELETE /flags/{flagName}": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      if (!(await isDeletionAllowed())) {
        throw serviceError("DELETION_DISABLED", "flag deletion is switched off (allowFlagDeletion=false)");
      }
      await store.remove(flagName, request.actor);
      await onDeleted?.(flagName, request.actor);
      return { status: 204 };
    },
  };
}
