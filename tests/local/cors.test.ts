import { strict as assert } from "node:assert";
import * as http from "node:http";
import { CORS_ALLOWED_HEADERS } from "../../handlers/http";
import { methodsOf, ROUTES } from "../../handlers/routes";
import { resolveLocalConfig } from "../../local/config";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { ADMIN_TOKEN, CLIENT_TOKEN } from "../support/tokens";

const ORIGIN = "https://app.example.com";
const OTHER_ALLOWED = "http://localhost:5173";
const STRANGER = "https://evil.example.com";
const FOUR = ["Authorization", "Content-Type", "If-Match", "If-None-Match"];

/** A concrete path for a catalogue resource: each `{param}` becomes `value`. */
const pathOf = (resource: string, value: string) => resource.replace(/\{[^}]+\}/g, value);

/** A comma-separated header as a list, trimmed. */
const listOf = (header: string | null) => (header ?? "").split(",").map((item) => item.trim());

/** Sends a request and reads only its status and headers (a stream would never end). */
async function call(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Headers }> {
  const response = await fetch(url, { method, headers, body });
  await response.body?.cancel();
  return { status: response.status, headers: response.headers };
}

/**
 * What each served route needs to give its normal answer, in catalogue order (a DELETE removes
 * what `before` made for it). A route not listed here (added later) still gets walked, with `x`
 * for its parameters and no body: its answer must carry the CORS headers all the same.
 */
const SAMPLES: Record<string, { path?: string; body?: unknown; status: number }> = {
  "GET /health": { status: 200 },
  "GET /flags": { status: 200 },
  "GET /flags/{flagName}": { path: "/flags/cors-flag", status: 200 },
  "GET /flags/{flagName}/history": { path: "/flags/cors-flag/history", status: 200 },
  "POST /flags": { body: { flagName: "cors-created", value: true }, status: 201 },
  "PUT /flags/{flagName}": { path: "/flags/cors-flag", body: { value: false }, status: 200 },
  "DELETE /flags/{flagName}": { path: "/flags/cors-doomed", status: 204 },
  "GET /settings": { status: 200 },
  "GET /evaluators": { status: 200 },
  "GET /evaluators/{name}": { path: "/evaluators/cors-ev", status: 200 },
  "GET /evaluators/{name}/history": { path: "/evaluators/cors-ev/history", status: 200 },
  "PUT /evaluators/{name}": { path: "/evaluators/cors-ev", body: { expression: { "==": [2, 2] } }, status: 200 },
  "DELETE /evaluators/{name}": { path: "/evaluators/cors-ev-doomed", status: 204 },
  "POST /ofrep/v1/evaluate/flags/{key}": {
    path: "/ofrep/v1/evaluate/flags/cors-flag",
    body: { context: {} },
    status: 200,
  },
  "POST /ofrep/v1/evaluate/flags": { body: { context: {} }, status: 200 },
};

const SERVED = ROUTES.filter((route) => route.method !== "OPTIONS");
const PATHS = [...new Set(ROUTES.map((route) => route.resource))];

describe("CORS on every route of the catalogue (local runtime)", () => {
  let service: RunningService;
  let api: Client;

  before(async () => {
    ({ service, api } = await startTestService({ corsOrigins: [ORIGIN, OTHER_ALLOWED] }));
    for (const flagName of ["cors-flag", "cors-doomed"]) {
      assert.equal((await api("POST", "/flags", { body: { flagName, value: true } })).status, 201);
    }
    for (const name of ["cors-ev", "cors-ev-doomed"]) {
      assert.equal((await api("PUT", "/evaluators/" + name, { body: { expression: { "==": [1, 1] } } })).status, 201);
    }
  });
  after(() => service.stop());

  it("walks a catalogue that has a preflight for every path", () => {
    for (const resource of PATHS) {
      assert.ok(
        ROUTES.some((route) => route.method === "OPTIONS" && route.resource === resource),
        `${resource} has no OPTIONS route`,
      );
    }
  });

  for (const resource of PATHS) {
    describe(`OPTIONS ${resource}`, () => {
      for (const origin of [ORIGIN, OTHER_ALLOWED]) {
        it(`answers a preflight from ${origin} with 204, the path's methods and the allowed headers`, async () => {
          const preflight = await call(`${service.url}${pathOf(resource, "x")}`, "OPTIONS", {
            Origin: origin,
            "Access-Control-Request-Method": methodsOf(resource)[0],
            "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
          });

          assert.equal(preflight.status, 204);
          assert.equal(preflight.headers.get("access-control-allow-origin"), origin);
          assert.deepEqual(
            listOf(preflight.headers.get("access-control-allow-methods")).sort(),
            [...methodsOf(resource)].sort(),
          );
          const allowed = listOf(preflight.headers.get("access-control-allow-headers")).map((h) => h.toLowerCase());
          for (const header of FOUR) assert.ok(allowed.includes(header.toLowerCase()), `${header} not allowed`);
          assert.ok(listOf(preflight.headers.get("vary")).includes("Origin"));
        });
      }

      it("gives a preflight from an origin not listed no CORS headers", async () => {
        const preflight = await call(`${service.url}${pathOf(resource, "x")}`, "OPTIONS", {
          Origin: STRANGER,
          "Access-Control-Request-Method": methodsOf(resource)[0],
        });

        assert.equal(preflight.headers.get("access-control-allow-origin"), null);
        assert.equal(preflight.headers.get("access-control-allow-methods"), null);
      });
    });
  }

  for (const route of SERVED) {
    const key = `${route.method} ${route.resource}`;
    const sample = SAMPLES[key] ?? { status: 0 };
    const url = () => `${service.url}${sample.path ?? pathOf(route.resource, "x")}`;
    const body = sample.body === undefined ? undefined : JSON.stringify(sample.body);

    describe(key, () => {
      if (route.scope !== null) {
        it("refuses a request from an allowed origin without a token with 401 that the page can read", async () => {
          const refused = await call(url(), route.method, { Origin: ORIGIN, "Content-Type": "application/json" }, body);

          assert.equal(refused.status, 401);
          assert.equal(refused.headers.get("access-control-allow-origin"), ORIGIN);
          assert.ok(listOf(refused.headers.get("access-control-expose-headers")).includes("ETag"));
        });
      }

      it("answers an allowed origin's request with a token as usual, with the origin and ETag exposed", async () => {
        const answered = await call(
          url(),
          route.method,
          { Origin: ORIGIN, "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
          body,
        );

        if (sample.status !== 0) assert.equal(answered.status, sample.status);
        else assert.ok(answered.status < 500, `${key}: ${answered.status}`);
        assert.equal(answered.headers.get("access-control-allow-origin"), ORIGIN);
        assert.ok(listOf(answered.headers.get("access-control-expose-headers")).includes("ETag"));
        assert.ok(listOf(answered.headers.get("vary")).includes("Origin"));
      });
    });
  }

  it("names no origin it was not given on an actual request", async () => {
    const answered = await call(`${service.url}/flags`, "GET", {
      Origin: STRANGER,
      Authorization: `Bearer ${ADMIN_TOKEN}`,
    });

    assert.equal(answered.status, 200);
    assert.equal(answered.headers.get("access-control-allow-origin"), null);
    assert.equal(answered.headers.get("access-control-expose-headers"), null);
  });

  it("lets a page read a client key's 403 on a route the key may not use", async () => {
    const refused = await call(`${service.url}/flags`, "GET", {
      Origin: ORIGIN,
      Authorization: `Bearer ${CLIENT_TOKEN}`,
    });

    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("access-control-allow-origin"), ORIGIN);
  });

  it("lets a page read the 404 for a path that is no route", async () => {
    const missing = await call(`${service.url}/no-such-route`, "GET", { Origin: ORIGIN });

    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("access-control-allow-origin"), ORIGIN);
  });

  it("lets a page read the 413 for a body the local server refuses to read", async () => {
    const tooLarge = await call(
      `${service.url}/flags`,
      "POST",
      { Origin: ORIGIN, "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      `{"flagName":"x","value":"${"y".repeat(1024 * 1024)}"}`,
    );

    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.headers.get("access-control-allow-origin"), ORIGIN);
  });

  it("allows the headers EventSource and the OFREP web provider send", () => {
    for (const header of [...FOUR, "Last-Event-ID"]) assert.ok(CORS_ALLOWED_HEADERS.includes(header), header);
  });
});

/** POSTs a bulk evaluation from `localAddress` (any 127.0.0.0/8 address reaches 127.0.0.1 on Linux). */
function evaluateFrom(
  service: RunningService,
  localAddress: string,
  token: string | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${service.url}/ofrep/v1/evaluate/flags`,
      {
        method: "POST",
        localAddress,
        headers: {
          Origin: ORIGIN,
          "Content-Type": "application/json",
          ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on("error", reject);
    request.end(JSON.stringify({ context: {} }));
  });
}

describe("per-IP throttling of OFREP (local runtime)", () => {
  const LIMIT = 5;
  let service: RunningService;
  let api: Client;

  before(async () => {
    ({ service, api } = await startTestService({ corsOrigins: [ORIGIN], ofrepRateLimit: LIMIT }));
    for (let i = 0; i < LIMIT; i++) {
      assert.equal((await evaluateFrom(service, "127.0.0.1", CLIENT_TOKEN)).status, 200, `request ${i + 1}`);
    }
  });
  after(() => service.stop());

  it("answers the request over the limit 429 THROTTLED with Retry-After, readable by an allowed origin", async () => {
    const throttled = await evaluateFrom(service, "127.0.0.1", CLIENT_TOKEN);

    assert.equal(throttled.status, 429);
    assert.equal(JSON.parse(throttled.body).error.code, "THROTTLED");
    const wait = Number(throttled.headers["retry-after"]);
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After: ${throttled.headers["retry-after"]}`);
    assert.equal(throttled.headers["access-control-allow-origin"], ORIGIN);
    assert.ok(listOf(throttled.headers["access-control-expose-headers"] ?? null).includes("Retry-After"));
  });

  it("throttles before the token is checked, as WAF does on AWS: a flood without a token gets 429", async () => {
    const throttled = await evaluateFrom(service, "127.0.0.1", undefined);

    assert.equal(throttled.status, 429);
  });

  it("counts the single-flag route with the bulk one", async () => {
    const single = await api("POST", "/ofrep/v1/evaluate/flags/anything", { body: { context: {} } });

    assert.equal(single.status, 429);
  });

  it("leaves another address its own allowance", async () => {
    const elsewhere = await evaluateFrom(service, "127.0.0.2", CLIENT_TOKEN);

    assert.equal(elsewhere.status, 200);
  });

  it("does not throttle the routes outside OFREP", async () => {
    const listed = await api("GET", "/flags");

    assert.equal(listed.status, 200);
  });
});

describe("FLAGS_RATE_LIMIT (local configuration)", () => {
  const limitFrom = (value: string | undefined) =>
    resolveLocalConfig({ FLAGS_RATE_LIMIT: value, FLAGS_IN_MEMORY: "1" }, process.cwd()).ofrepRateLimit;

  it("defaults to the AWS default, 1,000 requests per IP per minute", () => {
    assert.equal(limitFrom(undefined), 1000);
  });

  it("takes a whole number, 0 turning the limiter off", () => {
    assert.equal(limitFrom("250"), 250);
    assert.equal(limitFrom("0"), 0);
  });

  it("refuses anything else, naming the variable", () => {
    for (const bad of ["-1", "1.5", "lots", "1e3"]) assert.throws(() => limitFrom(bad), /FLAGS_RATE_LIMIT/, bad);
  });
});
