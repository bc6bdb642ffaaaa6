import type { RouteHandler } from "../http";
import { decodeHistoryCursor } from "./cursor";
import type { HistoryStore } from "./historyStore";
import { parseFlagName, parseLimit } from "./validation";

/** `GET /flags/{flagName}/history?limit=&cursor=`: a flag's versions, newest first. */
export function makeHistoryRoutes({ history }: { history: HistoryStore }): Record<string, RouteHandler> {
  return {
    "GET /flags/{flagName}/history": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const limit = parseLimit(request.query.limit);
      const cursor = request.query.cursor;
      const page = await history.page(flagName, limit, cursor === undefined ? undefined : decodeHistoryCursor(cursor));
      return { status: 200, body: page };
    },
  };
}
