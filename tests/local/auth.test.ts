import { strict as assert } from "node:assert";
import type { Scope } from "../../handlers/auth/tokens";
import { ROUTES } from "../../handlers/routes";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

type Caller = "no token" | "malformed header" | "unknown token" | "client key" | "read token" | "write token";
const CALLERS: Caller[] = ["no token", "malformed header", "unknown token", "client key", "read token", "write token"];

/** The scopes each known caller's token has (tests/support/tokens.ts). */
const SCOPES_OF: Partial<Record<Caller, Scope[]>> = {
  "client key": ["evaluate"],
  "read token": ["read"],
  "write token": ["read", "write"],
};

/**
 * What each caller gets on a route needing `scope` (CONTRACT.md, "Auth"); 2xx means the route ran.
 * Spelled out rather than derived from `grants`, so that a wrong `grants` fails here: a client key
 * may call OFREP (and /health) and nothing else.
 */
function expected(caller: Caller, scope: Scope | null): number | "2xx" {
  if (scope === null) return "2xx";
  const scopes = SCOPES_OF[caller];
  if (scopes === undefined) return 401;
  if (scope === "write") return scopes.includes("write") ? "2xx" : 403;
  if (scope === "read") return scopes.includes("read") || scopes.includes("write") ? "2xx" : 403;
  return "2xx"; // evaluate: every known token
}

describe("auth matrix: every REST route × every kind of caller (local runtime)", () => {
  let service: RunningService;
  let admin: Client;
  let as: (token: string | undefined) => Client;
  let counter = 0;

  before(async () => {
    ({ service, api: admin, as } = await startTestService());
    // OFREP sees a new flag within its 250 ms freshness bound, so it evaluates one made up front;
    // client-side, so that it exists for a client key too.
    await admin("POST", "/flags", { body: { flagName: "ofrep-target", value: 1, clientSide: true } });
    const ofrep = as(CLIENT_TOKEN);
    const body = { context: {} };
    while ((await ofrep("POST", "/ofrep/v1/evaluate/flags/ofrep-target", { body })).status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(() => service.stop());

  const callerClient = (caller: Caller): Client => {
    switch (caller) {
      case "no token":
        return as(undefined);
      case "malformed header":
        return (method, path, options = {}) =>
          as(undefined)(method, path, { ...options, headers: { Authorization: `Token ${ADMIN_TOKEN}` } });
      case "unknown token":
        return as("an-unknown-token-0123456789abcdef");
      case "client key":
        return as(CLIENT_TOKEN);
      case "read token":
        return as(READ_TOKEN);
      case "write token":
        return as(ADMIN_TOKEN);
    }
  };

  for (const route of ROUTES.filter((r) => r.method !== "OPTIONS")) {
    for (const caller of CALLERS) {
      // The OFREP event stream reads no header (EventSource sends none): without the credential
      // its URL carries, every caller is 401 (the credential: tests/local/eventStream.test.ts).
      const outcome = route.resource === "/ofrep/v1/events" ? 401 : expected(caller, route.scope);
      it(`${route.method} ${route.resource} with ${caller} → ${outcome}`, async () => {
        const name = `m-${++counter}`;
        // A rollout's routes need a flag with variants, and (but to start one) a running rollout.
        const rollout = route.resource.includes("/rollout");
        await admin("POST", "/flags", {
          body: rollout
            ? { flagName: name, variants: { on: true, off: false }, defaultVariant: "off" }
            : { flagName: name, value: 1 },
        });
        const ramp = { variant: "on", steps: [{ percent: 10, holdSeconds: 3_600 }, { percent: 100 }] };
        if (rollout && route.method !== "PUT") await admin("PUT", `/flags/${name}/rollout`, { body: ramp });
        const baseline = (await admin("GET", `/flags/${name}`)).body.version;
        await admin("PUT", `/evaluators/${name}`, { body: { expression: { "==": [1, 1] } } });
        // A schedule of the flag, for the routes naming one (pending, an hour ahead).
        const at = new Date(Date.now() + 3_600_000).toISOString();
        const schedule = route.resource.includes("{id}")
          ? (await admin("POST", `/flags/${name}/schedules`, { body: { at, change: { value: 3 } } })).body.id
          : "";
        const path = route.resource
          .replace(/\{(flagName|name)\}/, name)
          .replace("{key}", "ofrep-target")
          .replace("{id}", schedule);
        const body = route.resource.startsWith("/ofrep/")
          ? { context: { targetingKey: "user-1" } }
          : route.resource.startsWith("/evaluators/")
            ? { expression: { "==": [2, 2] } }
            : route.resource.endsWith("/schedules")
              ? { at, change: { value: 3 } }
              : route.resource === "/flagset"
                ? { flags: {} }
                : route.resource.endsWith("/rollout")
                  ? ramp
                  : route.method === "POST"
                    ? { flagName: `${name}-new`, value: 1 }
                    : { value: 2 };
        const result = await callerClient(caller)(route.method, path, {
          body: route.method === "GET" || route.method === "DELETE" ? undefined : body,
        });

        if (outcome === "2xx") {
          assert.ok(result.status >= 200 && result.status < 300, `${result.status} ${JSON.stringify(result.body)}`);
          return;
        }
        assert.equal(result.status, outcome);
        assert.equal(result.body.error.code, outcome === 401 ? "UNAUTHENTICATED" : "FORBIDDEN");
        // A refused request changed nothing.
        const stored = await admin("GET", `/flags/${name}`);
        assert.equal(stored.body.version, baseline);
        assert.equal((await admin("GET", `/flags/${name}-new`)).status, 404);
        assert.deepEqual((await admin("GET", `/evaluators/${name}`)).body.expression, { "==": [1, 1] });
        // No schedule was made or cancelled.
        const schedules = (await admin("GET", `/flags/${name}/schedules`)).body.schedules;
        assert.deepEqual(
          schedules.map((s: { id: string; status: string }) => [s.id, s.status]),
          schedule === "" ? [] : [[schedule, "pending"]],
        );
      });
    }
  }

  it("records the token id of whoever created and updated a flag", async () => {
    const created = await as(ADMIN_TOKEN)("POST", "/flags", { body: { flagName: "who", value: 1 } });
    assert.equal(created.body.createdBy, "admin");
    await admin("PUT", "/flags/who", { body: { value: 2 } });
    const read = await as(READ_TOKEN)("GET", "/flags/who");
    assert.equal(read.body.createdBy, "admin");
    assert.equal(read.body.updatedBy, "admin");
  });
});

describe("CORS on the local runtime", () => {
  it("sends no CORS headers by default", async () => {
    const { service, api } = await startTestService();
    try {
      const result = await api("GET", "/flags", { headers: { Origin: "https://admin.example.com" } });
      assert.equal(result.headers.get("access-control-allow-origin"), null);
    } finally {
      await service.stop();
    }
  });

  it("answers preflights without a token and echoes only listed origins", async () => {
    const { service, api, as } = await startTestService({ corsOrigins: ["https://admin.example.com"] });
    try {
      const preflight = await as(undefined)("OPTIONS", "/flags/x", {
        headers: { Origin: "https://admin.example.com" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://admin.example.com");
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
      for (const path of ["/flags/x/history", "/settings", "/evaluators", "/evaluators/x", "/evaluators/x/history"]) {
        const other = await as(undefined)("OPTIONS", path, { headers: { Origin: "https://admin.example.com" } });
        assert.equal(other.status, 204, path);
        assert.equal(other.headers.get("access-control-allow-origin"), "https://admin.example.com", path);
      }
      const listed = await api("GET", "/flags", { headers: { Origin: "https://admin.example.com" } });
      assert.equal(listed.headers.get("access-control-allow-origin"), "https://admin.example.com");
      const other = await api("GET", "/flags", { headers: { Origin: "https://evil.example.com" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    } finally {
      await service.stop();
    }
  });
});
