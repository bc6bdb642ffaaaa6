/**
 * Every REST route, which function group serves it and the token scope it needs. The API Gateway
 * definition and the local runtime are both generated from this list.
 */
export const ROUTES = [
  { method: "GET", resource: "/health", group: "read", scope: null },
  { method: "GET", resource: "/flags", group: "read", scope: "read" },
  { method: "GET", resource: "/flags/{flagName}", group: "read", scope: "read" },
  { method: "GET", resource: "/flags/{flagName}/history", group: "read", scope: "read" },
  { method: "POST", resource: "/flags", group: "write", scope: "write" },
  { method: "PUT", resource: "/flags/{flagName}", group: "write", scope: "write" },
  { method: "DELETE", resource: "/flags/{flagName}", group: "delete", scope: "write" },
  // The function that reads the deletion switch for DELETE tells clients its value.
  { method: "GET", resource: "/settings", group: "delete", scope: "read" },
  { method: "GET", resource: "/evaluators", group: "read", scope: "read" },
  { method: "GET", resource: "/evaluators/{name}", group: "read", scope: "read" },
  { method: "GET", resource: "/evaluators/{name}/history", group: "read", scope: "read" },
  { method: "PUT", resource: "/evaluators/{name}", group: "write", scope: "write" },
  { method: "DELETE", resource: "/evaluators/{name}", group: "write", scope: "write" },
  // OFREP evaluation: its own function, which only reads the flag set (and stamps lastEvaluated).
  { method: "POST", resource: "/ofrep/v1/evaluate/flags/{key}", group: "ofrep", scope: "read" },
  { method: "POST", resource: "/ofrep/v1/evaluate/flags", group: "ofrep", scope: "read" },
  // CORS preflights: answered without a token and without touching data.
  { method: "OPTIONS", resource: "/flags", group: "read", scope: null },
  { method: "OPTIONS", resource: "/flags/{flagName}", group: "read", scope: null },
  { method: "OPTIONS", resource: "/flags/{flagName}/history", group: "read", scope: null },
  { method: "OPTIONS", resource: "/settings", group: "read", scope: null },
  { method: "OPTIONS", resource: "/evaluators", group: "read", scope: null },
  { method: "OPTIONS", resource: "/evaluators/{name}", group: "read", scope: null },
  { method: "OPTIONS", resource: "/evaluators/{name}/history", group: "read", scope: null },
] as const;

export type Route = (typeof ROUTES)[number];
export type RouteGroup = Route["group"];
export const ROUTE_GROUPS: readonly RouteGroup[] = ["read", "write", "delete", "ofrep"];
