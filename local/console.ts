import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as path from "node:path";
import { CONSOLE_CACHE, consoleCsp } from "../console/csp";
import { errorBody } from "../handlers/http";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
};

/** The built console in this checkout (`npm ci` and `npm start` build it there). */
export const DEFAULT_CONSOLE_DIR = path.join(__dirname, "..", "console", "dist");

/**
 * Serves the built console at `/console/`, as API Gateway does on AWS: no token for its static
 * files, the Content-Security-Policy on every response, `index.html` revalidated and hashed assets
 * cached for good. `config.json` is empty here: the WebSocket is on this origin's `/ws`.
 * Returns false for any other path.
 */
export function makeConsoleServer(dir: string = DEFAULT_CONSOLE_DIR) {
  const csp = consoleCsp();
  const send = (response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer) => {
    response.writeHead(status, { "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", ...headers });
    response.end(body);
  };
  return (request: IncomingMessage, response: ServerResponse, pathname: string): boolean => {
    if (pathname !== "/console" && !pathname.startsWith("/console/")) return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      const body = errorBody(
        "ROUTE_NOT_FOUND",
        `no route for ${request.method} ${pathname}: the console is read with GET`,
      );
      send(response, 404, { Allow: "GET, HEAD", "Content-Type": "application/json" }, JSON.stringify(body));
      return true;
    }
    if (pathname === "/console") {
      send(response, 308, { Location: "/console/" }, "");
      return true;
    }
    const relative = pathname === "/console/" ? "index.html" : pathname.slice("/console/".length);
    if (relative === "config.json") {
      send(response, 200, { "Content-Type": TYPES[".json"], "Cache-Control": CONSOLE_CACHE.page }, "{}");
      return true;
    }
    // Only the files the build made: index.html and assets/<name>-<hash>.<ext>, never a path outside.
    const file = path.join(dir, relative);
    const allowed = relative === "index.html" || /^assets\/[A-Za-z0-9_-]+\.(js|css)$/.test(relative);
    if (!allowed || !existsSync(file)) {
      const message =
        relative === "index.html"
          ? "the console is not built: run `npm run build:console`"
          : `no console file ${pathname}`;
      const body = JSON.stringify(errorBody("ROUTE_NOT_FOUND", message));
      send(response, 404, { "Content-Type": "application/json", "Cache-Control": "no-store" }, body);
      return true;
    }
    const cache = relative === "index.html" ? CONSOLE_CACHE.page : CONSOLE_CACHE.asset;
    const body = readFileSync(file);
    send(
      response,
      200,
      { "Content-Type": TYPES[path.extname(file)], "Cache-Control": cache },
      request.method === "HEAD" ? "" : body,
    );
    return true;
  };
}
