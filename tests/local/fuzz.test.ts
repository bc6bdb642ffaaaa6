import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";

/** Requests that are wrong in some way: bad JSON, wrong types, odd paths, hostile headers. */
function malformedRequest() {
  const name = fc.oneof(
    fc.constantFrom("seed-flag", "", "-x", "a b", "ünï", "%", "%E0%A4%A", "%00", "..", "a/b", "x".repeat(200)),
    fc.string({ maxLength: 40 }),
  );
  const jsonish = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.constantFrom("{", "[]", "null", "1", '"x"', '{"flagName":', '{"value":}', "\u0000", "{}".repeat(5000)),
    fc.json({ maxDepth: 4 }),
    fc
      .record(
        {
          flagName: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)),
          value: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 })),
          description: fc.oneof(fc.integer(), fc.string({ minLength: 1025, maxLength: 1100 }), fc.constant(null)),
          extra: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map((body) => JSON.stringify(body)),
    fc.nat(40).map((depth) => `{"flagName":"deep","value":${"[".repeat(depth + 33)}${"]".repeat(depth + 33)}}`),
  );
  return fc.record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
    path: fc.oneof(
      name.map((n) => `/flags/${n.replace(/[?#]/g, "")}`),
      fc.constantFrom("/flags", "/flags/", "/", "/health/x", "/flags//x"),
      fc.string({ maxLength: 30 }).map((s) => `/flags?limit=${encodeURIComponent(s)}&cursor=${encodeURIComponent(s)}`),
    ),
    body: fc.option(jsonish, { nil: undefined }),
    ifMatch: fc.option(
      fc.oneof(
        fc.string({ maxLength: 10 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
        fc.constantFrom("0", "-1", '"1"', "99999999999999999999"),
      ),
      { nil: undefined },
    ),
  });
}

describe("malformed requests (fast-check, local runtime)", () => {
  let service: RunningService;
  let api: Client;
  let seed: unknown;

  before(async () => {
    ({ service, api } = await startTestService({ allowFlagDeletion: () => false }));
    seed = (await api("POST", "/flags", { body: { flagName: "seed-flag", value: { keep: true }, description: "d" } }))
      .body;
  });
  after(() => service.stop());

  it("never answer 5xx and never change a stored flag, over 600 requests", async () => {
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(malformedRequest(), async (request) => {
        requests += 1;
        // A PUT must not legitimately succeed on the seed flag: any If-Match naming its version 1
        // becomes a stale one. (Deletion is switched off for this suite.)
        const ifMatch = request.ifMatch ?? "99";
        const headers = { "If-Match": /^\s*(W\/)?"?0*1"?\s*$/.test(ifMatch) ? "99" : ifMatch };
        const body = request.method === "GET" ? undefined : request.body;
        const result = await api(request.method, request.path, { body, headers });
        assert.ok(
          result.status < 500,
          `${request.method} ${request.path} → ${result.status} ${JSON.stringify(result.body)}`,
        );
        if (result.status >= 400) assert.equal(typeof result.body?.error?.code, "string");
      }),
      { numRuns: 600, seed: 20261122 },
    );
    assert.equal(requests >= 600, true);

    const list = (await api("GET", "/flags?limit=100")).body.flags;
    const stored = list.find((f: { flagName: string }) => f.flagName === "seed-flag");
    const { lastAccessed: _ignored, ...withoutTouch } = stored;
    const { lastAccessed: _seedIgnored, ...seedWithoutTouch } = seed as Record<string, unknown>;
    assert.deepEqual(withoutTouch, seedWithoutTouch);
  });
});
