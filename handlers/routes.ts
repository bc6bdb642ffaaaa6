/**
 * Every REST route, which function group serves it and the token scope it needs. The API Gateway
 * definition and the local runtime are both generated from this list; so are the CORS preflights
 * (`OPTIONS` on every path, see `PREFLIGHTS`), so a route added here cannot miss its own.
 */
const SERVED = [
  { method: "GET", resource: "/health", group: "read", scope: null },
  { method: "GET", resource: "/flags", group: "read", scope: "read" },
  { method: "GET", resource: "/flags/{flagName}", group: "read", scope: "read" },
  { method: "GET", resource: "/flags/{flagName}/history", group: "read", scope: "read" },
  { method: "POST", resource: "/flags", group: "write", scope: "write" },
  { method: "PUT", resource: "/flags/{flagName}", group: "write", scope: "write" },
  { method: "DELETE", resource: "/flags/{flagName}", group: "delete", scope: "write" },
  // The function that reads the deletion switch for DELETE tells clients its value.
  { method: "GET", resource: "/settings", group: "delete", scope: "read" },
  // Scheduled changes (handlers/schedules). Creating one is its own function's, the only one that
  // may create EventBridge Scheduler schedules (and pass their target's role). Listing is the read
  // function's and cancelling the delete function's, which cancels a deleted flag's schedules
  // anyway: API Gateway's permission for GET (DELETE) /flags/{flagName} names `/flags/*`, which
  // matches these paths too, so no other function may serve them.
  { method: "GET", resource: "/flags/{flagName}/schedules", group: "read", scope: "read" },
  { method: "POST", resource: "/flags/{flagName}/schedules", group: "schedules", scope: "write" },
  { method: "GET", resource: "/flags/{flagName}/schedules/{id}", group: "read", scope: "read" },
  { method: "DELETE", resource: "/flags/{flagName}/schedules/{id}", group: "delete", scope: "write" },
  // Progressive rollouts (handlers/rollouts). Starting and aborting one write the flag, so they
  // are the write function's (PUT for the same reason as above: its permission names `/flags/*`),
  // which also arms and disarms the rollout's steps; reading one is the read function's.
  { method: "GET", resource: "/flags/{flagName}/rollout", group: "read", scope: "read" },
  { method: "PUT", resource: "/flags/{flagName}/rollout", group: "write", scope: "write" },
  { method: "POST", resource: "/flags/{flagName}/rollout/abort", group: "write", scope: "write" },
  // Flags as code (handlers/flagset): the export is the read function's; the import, which
  // creates, updates and (with prune) deletes flags and evaluators, is its own function's.
  { method: "GET", resource: "/flagset", group: "read", scope: "read" },
  { method: "PUT", resource: "/flagset", group: "flagset", scope: "write" },
  { method: "GET", resource: "/evaluators", group: "read", scope: "read" },
  { method: "GET", resource: "/evaluators/{name}", group: "read", scope: "read" },
  { method: "GET", resource: "/evaluators/{name}/history", group: "read", scope: "read" },
  { method: "PUT", resource: "/evaluators/{name}", group: "write", scope: "write" },
  { method: "DELETE", resource: "/evaluators/{name}", group: "write", scope: "write" },
  // OFREP evaluation: its own function, which only reads the flag set (and stamps lastEvaluated).
  // `evaluate` is the client keys' scope; `read` and `write` include it.
  { method: "POST", resource: "/ofrep/v1/evaluate/flags/{key}", group: "ofrep", scope: "evaluate" },
  { method: "POST", resource: "/ofrep/v1/evaluate/flags", group: "ofrep", scope: "evaluate" },
  // OFREP's event stream (SSE, ADR-0008): no authorizer, since EventSource cannot send headers;
  // the URL's short-lived credential is verified by the handler (handlers/ofrep/events.ts). Its
  // own function, streaming its response for minutes (STREAMED_GROUPS).
  { method: "GET", resource: "/ofrep/v1/events", group: "events", scope: null },
] as const;

type Served = (typeof SERVED)[number];

/** A CORS preflight: answered without a token and without touching data, by its path's function. */
export interface Preflight {
  readonly method: "OPTIONS";
  readonly resource: Served["resource"];
  readonly group: Served["group"];
  readonly scope: null;
}

/** The methods a path serves, as a preflight names them (`GET, PUT, OPTIONS`). */
export function methodsOf(resource: string): string[] {
  const methods = SERVED.filter((route) => route.resource === resource).map((route) => route.method as string);
  return [...methods, "OPTIONS"];
}

/**
 * Groups whose function streams its response (API Gateway `responseTransferMode: STREAM`, Lambda
 * `InvokeWithResponseStream`): an invocation lasts as long as the client stays connected.
 */
export const STREAMED_GROUPS = ["events"] as const;

/**
 * Who answers a path's preflight: the path's function, except that a streamed group's preflight,
 * a short answer, goes to the OFREP function (a streaming function answers in the streaming format).
 */
const PREFLIGHT_GROUP: Partial<Record<Served["group"], Served["group"]>> = { events: "ofrep" };

/** The group that answers a path's preflight, before the ancestor rule of PREFLIGHTS. */
const ownPreflightGroup = (resource: string): Served["group"] => {
  const group = (SERVED.find((route) => route.resource === resource) as Served).group;
  return PREFLIGHT_GROUP[group] ?? group;
};

/**
 * One OPTIONS route per path of the catalogue, answered by the function serving the path, except
 * under a path that ends in a parameter (`/flags/{flagName}`): API Gateway's permission for that
 * path's preflight names `OPTIONS/flags/*`, which matches every deeper path too, so their
 * preflights are that function's as well (and no other function's permission overlaps it).
 */
export const PREFLIGHTS: readonly Preflight[] = SERVED.filter(
  (route, index) => SERVED.findIndex((other) => other.resource === route.resource) === index,
).map(({ resource }) => {
  const ancestor = SERVED.map((route) => route.resource as string)
    .filter((other) => other.endsWith("}") && resource.startsWith(`${other}/`))
    .sort((a, b) => a.length - b.length)[0];
  return { method: "OPTIONS", resource, group: ownPreflightGroup(ancestor ?? resource), scope: null };
});

export const ROUTES: ReadonlyArray<Served | Preflight> = [...SERVED, ...PREFLIGHTS];

export type Route = Served | Preflight;
export type RouteGroup = Route["group"];
export const ROUTE_GROUPS: readonly RouteGroup[] = [
  "read",
  "write",
  "delete",
  "ofrep",
  "events",
  "schedules",
  "flagset",
];

/** Whether a group's function streams its response (see STREAMED_GROUPS). */
export const isStreamed = (group: RouteGroup): boolean => (STREAMED_GROUPS as readonly string[]).includes(group);
