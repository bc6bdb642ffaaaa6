import { strict as assert } from "node:assert";
import type { Logger } from "@aws-lambda-powertools/logger";
import fc from "fast-check";
import { ERROR_STATUS } from "../../handlers/errors";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { ADMIN_TOKEN } from "../support/tokens";

/**
 * Issue 19, "no input is a 5xx": hostile bodies — deep, wide, huge numbers, long strings, keys that
 * name inherited properties, invalid UTF-8, empty — sent to every route that takes a body, against
 * the real local runtime. Every answer is a success or a 4xx with the contract's error body
 * (OFREP's own body on OFREP routes), nothing logs at ERROR (the on-call alarm), nothing rejects
 * unhandled, and `/health` answers 200 throughout.
 */

/** Keys that name a property every JavaScript object inherits. */
const PROTOTYPE_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"];
/** Keys that make a tree JsonLogic (or a flag body) often enough to reach the deeper checks. */
const MEANINGFUL_KEYS = ["var", "if", "==", "in", "and", "or", "merge", "all", "$ref", "cat", "fractional"];
const NAMES = ["f1", "f2", "seed", "e1", "seed-eval"];

const jsonString = (s: string) => JSON.stringify(s);

/** Number texts a double cannot hold, or that grow when written back (`1e20` is 21 digits). */
const numberText = fc.oneof(
  fc.constantFrom("1e400", "-1e400", "1e-400", "0.1e99999", "1e20", "-0", "5e-324", "1.7976931348623157e309"),
  fc.bigInt({ min: -(10n ** 60n), max: 10n ** 60n }).map(String),
  fc.nat(400).map((n) => `1${"0".repeat(n)}`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

/** A JSON text tree whose keys are often prototype names or operators. */
const { node: treeText } = fc.letrec<{ node: string; leaf: string; arr: string; obj: string }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("leaf"), tie("arr"), tie("obj")),
  leaf: fc.oneof(
    fc.constantFrom("true", "false", "null", '""', '"on"', '"\\ud800"', '"\\u0000"'),
    numberText,
    fc.string({ maxLength: 12 }).map(jsonString),
  ),
  arr: fc.array(tie("node"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
  obj: fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.constantFrom(...MEANINGFUL_KEYS), fc.string({ maxLength: 6 })),
        tie("node"),
      ),
      { maxLength: 3 },
    )
    .map((entries) => `{${entries.map(([key, value]) => `${jsonString(key)}:${value}`).join(",")}}`),
}));

/** A JSON text tree of operators and plain keys: bodies that pass the key check and reach flagd-core. */
const { node: plausibleText } = fc.letrec<{ node: string; leaf: string; arr: string; obj: string }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("leaf"), tie("arr"), tie("obj")),
  leaf: fc.oneof(
    fc.constantFrom("true", "false", "null", '"on"', '"off"', '"email"', '"u1"', "0", "1", "-1.5"),
    fc.string({ maxLength: 8 }).map(jsonString),
  ),
  arr: fc.array(tie("node"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
  obj: fc
    .tuple(fc.constantFrom(...MEANINGFUL_KEYS, "on", "off", "a"), tie("node"))
    .map(([key, value]) => `{${jsonString(key)}:${value}}`),
}));

/** Something nested deeper than any body needs, around an ordinary tree. */
const deepText = fc
  .record({
    depth: fc.integer({ min: 30, max: 3_000 }),
    shape: fc.constantFrom("array", "object", "jsonlogic"),
    inner: treeText,
  })
  .map(({ depth, shape, inner }) => {
    const [open, close] = shape === "array" ? ["[", "]"] : shape === "object" ? ['{"a":', "}"] : ['{"and":[', "]}"];
    return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
  });

/** A wide array or object, up to about 100 KB. */
const wideText = fc
  .record({ width: fc.integer({ min: 100, max: 20_000 }), element: fc.constantFrom("0", "1e20", '"x"', "{}", "[1]") })
  .chain(({ width, element }) =>
    fc.constantFrom(
      `[${Array(width).fill(element).join(",")}]`,
      `{${Array.from({ length: width }, (_, i) => `"k${i}":${element}`).join(",")}}`,
    ),
  );

/** A long string, up to 90,000 characters, escapes and lone surrogates included. */
const longStringText = fc
  .record({
    length: fc.integer({ min: 1_000, max: 90_000 }),
    unit: fc.constantFrom("x", "é", "\\n", "\\ud83d", "\\\\"),
  })
  .map(({ length, unit }) => `"${unit.repeat(Math.ceil(length / unit.length))}"`);

const inner = fc.oneof(
  { weight: 4, arbitrary: plausibleText },
  { weight: 3, arbitrary: treeText },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: wideText },
  { weight: 1, arbitrary: longStringText },
  { weight: 1, arbitrary: numberText },
);

type RouteKind = "createFlag" | "updateFlag" | "deleteFlag" | "putEvaluator" | "deleteEvaluator" | "ofrep" | "ofrepOne";
const ROUTE_KINDS: RouteKind[] = [
  "createFlag",
  "updateFlag",
  "deleteFlag",
  "putEvaluator",
  "deleteEvaluator",
  "ofrep",
  "ofrepOne",
];

function target(kind: RouteKind, name: string): { method: string; path: string } {
  switch (kind) {
    case "createFlag":
      return { method: "POST", path: "/flags" };
    case "updateFlag":
      return { method: "PUT", path: `/flags/${name}` };
    case "deleteFlag":
      return { method: "DELETE", path: `/flags/${name}` };
    case "putEvaluator":
      return { method: "PUT", path: `/evaluators/${name}` };
    case "deleteEvaluator":
      return { method: "DELETE", path: `/evaluators/${name}` };
    case "ofrep":
      return { method: "POST", path: "/ofrep/v1/evaluate/flags" };
    case "ofrepOne":
      return { method: "POST", path: `/ofrep/v1/evaluate/flags/${name}` };
  }
}

/** Wraps a hostile part where the route reads it, so it passes the outer checks and meets the inner ones. */
function wrapped(kind: RouteKind, name: string, part: string, where: number): string {
  const flagName = jsonString(name);
  const flagBodies = [
    `{"flagName":${flagName},"value":${part}}`,
    `{"flagName":${flagName},"value":1,"description":${part}}`,
    `{"flagName":${flagName},"variants":{"on":true,"off":false},"defaultVariant":"off","targeting":${part}}`,
    `{"flagName":${flagName},"variants":${part},"defaultVariant":"on"}`,
    `{"flagName":${flagName},"value":1,"metadata":${part}}`,
    `{"flagName":${flagName},"variants":{"on":true,"off":false},"defaultVariant":"off","targeting":{"if":[{"in":[{"var":"email"},${part}]},"on","off"]}}`,
  ];
  switch (kind) {
    case "createFlag":
    case "updateFlag":
    case "deleteFlag":
      return flagBodies[where % flagBodies.length];
    case "putEvaluator":
    case "deleteEvaluator":
      return [`{"expression":${part}}`, `{"expression":{"in":[{"var":"email"},${part}]}}`][where % 2];
    case "ofrep":
    case "ofrepOne":
      return [`{"context":${part}}`, `{"context":{"targetingKey":"u1","email":${part}}}`][where % 2];
  }
}

/** Bytes that are not UTF-8, spliced in at a position. */
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x80])];

const hostileRequest = fc.record({
  kind: fc.constantFrom(...ROUTE_KINDS),
  name: fc.constantFrom(...NAMES),
  part: inner,
  where: fc.nat(11),
  raw: fc.oneof(
    { weight: 8, arbitrary: fc.constant("wrapped" as const) },
    { weight: 2, arbitrary: fc.constant("bare" as const) },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "null", "{", "\uFEFF{}", "[]") },
  ),
  corrupt: fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.double({ min: 0, max: 1, noNaN: true })) },
  ),
});

type HostileRequest = typeof hostileRequest extends fc.Arbitrary<infer T> ? T : never;

/** The bodies issue 19 reports, tried first on every run. */
function reportedBodies(): Array<[HostileRequest]> {
  const refs = `{"or":[${Array.from({ length: 120 }, (_, i) => `{"$ref":"e${i}"}`).join(",")}]}`;
  const bodies: Array<[RouteKind, string]> = [
    ["putEvaluator", `{"expression":${'{"and":['.repeat(600)}true${"]}".repeat(600)}}`],
    [
      "createFlag",
      '{"flagName":"f1","variants":{"on":true,"off":false},"defaultVariant":"off","targeting":{"__defineGetter__":[1]}}',
    ],
    ["putEvaluator", '{"expression":{"constructor":[1]}}'],
    [
      "createFlag",
      `{"flagName":"f1","variants":{"on":true,"off":false},"defaultVariant":"off","targeting":{"if":[${refs},"on","off"]}}`,
    ],
    [
      "updateFlag",
      `{"variants":{"on":true,"off":false},"defaultVariant":"off","targeting":{"if":[${refs},"on","off"]}}`,
    ],
    ["createFlag", '{"flagName":"f1","value":{"__proto__":{"n":1e400}}}'],
    ["createFlag", `{"flagName":"f1","value":[${Array(13_000).fill("1e20").join(",")}]}`],
  ];
  return bodies.map(([kind, part]) => [
    { kind, name: kind === "updateFlag" ? "seed" : "f1", part, where: 0, raw: "bare", corrupt: undefined },
  ]);
}

function bodyOf(request: HostileRequest): Buffer {
  const text =
    request.raw === "wrapped"
      ? wrapped(request.kind, request.name, request.part, request.where)
      : request.raw === "bare"
        ? request.part
        : request.raw;
  const bytes = Buffer.from(text, "utf8");
  if (request.corrupt === undefined) return bytes;
  const [bad, at] = request.corrupt;
  const cut = Math.floor(at * bytes.length);
  return Buffer.concat([bytes.subarray(0, cut), bad, bytes.subarray(cut)]);
}

/** A logger that keeps what it was asked to log, by level. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; extra: unknown }> = [];
  const at =
    (level: string) =>
    (message: string, extra: unknown = undefined) =>
      void lines.push({ level, message, extra });
  const logger = { debug: at("DEBUG"), info: at("INFO"), warn: at("WARN"), error: at("ERROR") };
  return { logger: logger as unknown as Logger, lines };
}

/** Whether a response body is exactly the contract's error body for this status. */
function isContractError(status: number, body: unknown): boolean {
  if (body === null || typeof body !== "object" || Object.keys(body).join() !== "error") return false;
  const { error } = body as { error: Record<string, unknown> };
  if (error === null || typeof error !== "object" || Object.keys(error).sort().join() !== "code,message") return false;
  const code = error.code as keyof typeof ERROR_STATUS;
  return (
    typeof code === "string" &&
    ERROR_STATUS[code] === status &&
    typeof error.message === "string" &&
    !/\n\s+at /.test(error.message)
  );
}

/** OFREP's error body (`errorCode`, with `key` on a single evaluation). */
const isOfrepError = (body: unknown): boolean =>
  body !== null && typeof body === "object" && typeof (body as { errorCode?: unknown }).errorCode === "string";

describe("hostile bodies on every route that takes one (fast-check, local runtime)", () => {
  let service: RunningService;
  let api: Client;
  const recorded = recordingLogger();
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);

  before(async () => {
    process.on("unhandledRejection", onRejection);
    ({ service, api } = await startTestService({ logger: recorded.logger }));
    await api("PUT", "/evaluators/seed-eval", { body: { expression: { in: [{ var: "email" }, ["a@b.c"]] } } });
    await api("POST", "/flags", {
      body: {
        flagName: "seed",
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: { if: [{ $ref: "seed-eval" }, "on", "off"] },
      },
    });
  });
  after(async () => {
    process.off("unhandledRejection", onRejection);
    await service.stop();
  });

  /** One raw request with a deadline: a runtime whose event loop stops fails the test, not mocha's timeout. */
  const send = async (method: string, path: string, body?: Buffer) => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      body,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // Left as text: the assertion below shows it.
    }
    return { status: response.status, body: parsed };
  };

  /** The WARN and ERROR lines logged while `run` runs. */
  const loggedDuring = async (run: () => Promise<unknown>) => {
    const from = recorded.lines.length;
    await run();
    return recorded.lines.slice(from).filter((line) => line.level === "WARN" || line.level === "ERROR");
  };
  const richFlag = (targeting: string) =>
    Buffer.from(`{"flagName":"f1","variants":{"on":true,"off":false},"defaultVariant":"off","targeting":${targeting}}`);

  it("answers an evaluator nested 600 levels deep with 400 VALIDATION_FAILED, logged at WARN", async () => {
    const deep = `{"expression":${'{"and":['.repeat(600)}true${"]}".repeat(600)}}`;
    let result: Awaited<ReturnType<typeof send>> | undefined;

    const lines = await loggedDuring(async () => (result = await send("PUT", "/evaluators/e1", Buffer.from(deep))));

    assert.equal(result?.status, 400);
    assert.equal((result?.body as { error: { code: string } }).error.code, "VALIDATION_FAILED");
    assert.deepEqual(
      lines.map((line) => line.level),
      ["WARN"],
    );
  });

  it("answers targeting that names Object.prototype's methods with 400, and keeps serving", async () => {
    for (const name of PROTOTYPE_NAMES) {
      const result = await send("POST", "/flags", richFlag(`{${jsonString(name)}:[1]}`));

      assert.equal(result.status, 400, name);
    }
    await new Promise((resolve) => setImmediate(resolve));

    assert.equal((await send("GET", "/health")).status, 200);
    assert.deepEqual(rejections, []);
  });

  it("answers a flag that references 120 evaluators with 400 naming the bound", async () => {
    const refs = Array.from({ length: 120 }, (_, i) => `{"$ref":"e${i}"}`).join(",");

    const result = await send("POST", "/flags", richFlag(`{"if":[{"or":[${refs}]},"on","off"]}`));

    assert.equal(result.status, 400);
    assert.match((result.body as { error: { message: string } }).error.message, /refsPerFlag/);
  });

  it("answers every one with a success or a 4xx and the right error body, /health 200 throughout", async () => {
    const health: Array<{ status: number; ms: number }> = [];
    let fuzzing = true;
    const poller = (async () => {
      while (fuzzing) {
        const started = Date.now();
        const { status } = await send("GET", "/health");
        health.push({ status, ms: Date.now() - started });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const seen = new Map<number, number>();

    try {
      await fc.assert(
        fc.asyncProperty(hostileRequest, async (request) => {
          const { method, path } = target(request.kind, request.name);
          const result = await send(method, path, bodyOf(request));
          seen.set(result.status, (seen.get(result.status) ?? 0) + 1);
          const shown = `${method} ${path} → ${result.status} ${JSON.stringify(result.body)?.slice(0, 300)}`;
          assert.ok(result.status < 500, shown);
          if (result.status < 400) return;
          // OFREP answers with its own body, except for what is refused before its handler reads the
          // body (too large, not UTF-8): that is the service's.
          const ofrepAnswer = request.kind.startsWith("ofrep") && isOfrepError(result.body);
          assert.ok(ofrepAnswer || isContractError(result.status, result.body), shown);
        }),
        {
          examples: reportedBodies(),
          // FUZZ_RUNS and FUZZ_SEED make a longer or different hunt without editing the test.
          numRuns: Number(process.env.FUZZ_RUNS ?? 300),
          interruptAfterTimeLimit: 25_000,
          seed: Number(process.env.FUZZ_SEED ?? 20261205),
        },
      );
    } finally {
      fuzzing = false;
      await poller;
    }
    const sent = [...seen.values()].reduce((a, b) => a + b, 0);
    const after = await send("GET", "/health");

    assert.ok(sent >= 100, `only ${sent} requests were sent`);
    assert.ok(health.length >= 10, `/health answered only ${health.length} times`);
    assert.deepEqual(
      health.filter((check) => check.status !== 200),
      [],
    );
    assert.equal(after.status, 200);
    assert.ok(
      [...seen.keys()].some((status) => status < 300),
      `no request succeeded: ${[...seen.keys()]}`,
    );
    assert.deepEqual(
      recorded.lines.filter((line) => line.level === "ERROR"),
      [],
    );
    assert.deepEqual(rejections, []);
  });
});
