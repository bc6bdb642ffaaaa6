import { strict as assert } from "node:assert";
import fc from "fast-check";
import { parseCreateFlag } from "../../handlers/flags/validation";
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
      fc.constantFrom("/flags", "/flags/", "/", "/health/x", "/flags//x", "//[", "//a:b@", "/flags/%"),
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

/** A valid create is not malformed: it would (rightly) add a flag. */
function isValidCreate(method: string, path: string, body: string | undefined): boolean {
  if (method !== "POST" || !/^\/flags\/?$/.test(path) || body === undefined) return false;
  try {
    parseCreateFlag(JSON.parse(body));
    return true;
  } catch {
    return false;
  }
}

describe("malformed requests (fast-check, local runtime)", () => {
  let service: RunningService;
  let api: Client;

  before(async () => {
    ({ service, api } = await startTestService({ allowFlagDeletion: () => false }));
    for (const flagName of ["seed-flag", "other.flag"]) {
      await api("POST", "/flags", { body: { flagName, value: { keep: true }, description: "d" } });
    }
  });
  after(() => service.stop());

  /** Every stored flag, paging through, without the read stamp (reads may move it). */
  const snapshot = async () => {
    const flags: Array<Record<string, unknown>> = [];
    let cursor: string | undefined;
    do {
      const page = await api("GET", `/flags?limit=100${cursor === undefined ? "" : `&cursor=${cursor}`}`);
      flags.push(...page.body.flags.map(({ lastAccessed: _, ...flag }: Record<string, unknown>) => flag));
      cursor = page.body.nextCursor;
    } while (cursor !== undefined);
    return flags.sort((a, b) => String(a.flagName).localeCompare(String(b.flagName)));
  };

  it("never answer 5xx and never change a stored flag, over 600 requests", async () => {
    const before = await snapshot();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(malformedRequest(), async (request) => {
        const body = request.method === "GET" ? undefined : request.body;
        fc.pre(!isValidCreate(request.method, request.path, body));
        // If-Match never names a stored version (1), so no PUT can legitimately apply.
        // Deletion is switched off for this suite.
        const ifMatch = request.ifMatch ?? "99";
        const headers = { "If-Match": /^\s*(W\/)?"?0*1"?\s*$/.test(ifMatch) ? "99" : ifMatch };
        const result = await api(request.method, request.path, { body, headers });
        sent += 1;
        assert.ok(
          result.status < 500,
          `${request.method} ${request.path} → ${result.status} ${JSON.stringify(result.body)}`,
        );
        if (result.status >= 400) assert.equal(typeof result.body?.error?.code, "string");
      }),
      { numRuns: 600, seed: 20261122 },
    );
    assert.ok(sent >= 600, `only ${sent} malformed requests were sent`);
    assert.deepEqual(await snapshot(), before);
  });
});
