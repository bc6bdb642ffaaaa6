import { strict as assert } from "node:assert";
import { makeHealthRoutes } from "../../handlers/flags/routes";
import type { FlagStore } from "../../handlers/flags/store";
import { isDependencyFailure, keptExactly, makeProxyHandler } from "../../handlers/http";
import { proxyEvent } from "../support/proxyEvents";

const silent = { warn: () => {}, error: () => {} };

describe("keptExactly: a number survives JSON.parse and JSON.stringify digit for digit", () => {
  it("accepts what a double holds exactly, however it is written", () => {
    for (const source of [
      "0",
      "-0",
      "1.0",
      "1e2",
      "0.1",
      "-12.5e-3",
      "9007199254740992",
      "1.7976931348623157e308",
      "5e-324",
    ]) {
      assert.equal(keptExactly(source), true, source);
    }
  });

  it("refuses overflow, underflow and lost digits", () => {
    for (const source of [
      "1e400",
      "-1e400",
      "1e-400",
      "9007199254740993",
      "12345678901234567890123",
      "0.10000000000000000555",
    ]) {
      assert.equal(keptExactly(source), false, source);
    }
  });
});

describe("a failing dependency is a 503, not a 500", () => {
  const failing = (error: Error) =>
    makeProxyHandler(
      {
        "GET /flags": async () => {
          throw error;
        },
      },
      silent,
    );
  const unreachable = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8000"), { code: "ECONNREFUSED" });
  const overloaded = Object.assign(new Error("slow down"), {
    name: "ThrottlingException",
    $metadata: { httpStatusCode: 400 },
  });

  it("classifies network errors, timeouts, throttling and 5xx as the dependency's", () => {
    assert.equal(isDependencyFailure(unreachable), true);
    assert.equal(isDependencyFailure(overloaded), true);
    assert.equal(isDependencyFailure(Object.assign(new Error("x"), { $metadata: { httpStatusCode: 503 } })), true);
    assert.equal(isDependencyFailure(new TypeError("a bug")), false);
  });

  it("answers 503 DEPENDENCY_UNAVAILABLE with Retry-After for an unreachable DynamoDB", async () => {
    const result = await failing(unreachable)(proxyEvent({ method: "GET", resource: "/flags" }));
    assert.equal(result.statusCode, 503);
    assert.equal(JSON.parse(result.body).error.code, "DEPENDENCY_UNAVAILABLE");
    assert.equal(result.headers?.["Retry-After"], "1");
  });

  it("still answers 500 INTERNAL for a bug", async () => {
    const result = await failing(new TypeError("undefined is not a function"))(
      proxyEvent({ method: "GET", resource: "/flags" }),
    );
    assert.equal(result.statusCode, 500);
    assert.equal(JSON.parse(result.body).error.code, "INTERNAL");
  });
});

describe("GET /health reports whether the flag store answers", () => {
  const health = (list: FlagStore["list"]) =>
    makeProxyHandler(
      makeHealthRoutes({ store: { list } as FlagStore }),
      silent,
    )(proxyEvent({ method: "GET", resource: "/health", authorizer: null }));

  it("answers 200 ok when a read succeeds", async () => {
    const result = await health(async () => ({ flags: [] }));
    assert.equal(result.statusCode, 200);
    assert.deepEqual(JSON.parse(result.body), { status: "ok" });
  });

  it("answers 503 DEPENDENCY_UNAVAILABLE when DynamoDB cannot be reached", async () => {
    const result = await health(async () => {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8000"), { code: "ECONNREFUSED" });
    });
    assert.equal(result.statusCode, 503);
    assert.equal(JSON.parse(result.body).error.code, "DEPENDENCY_UNAVAILABLE");
  });
});
