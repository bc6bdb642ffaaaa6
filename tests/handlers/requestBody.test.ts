import { strict as assert } from "node:assert";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { isServiceError, type ServiceError } from "../../handlers/errors";
import { parseCreateFlag, parseUpdateFlag } from "../../handlers/flags/validation";
import {
  type ApiRequest,
  checkKeys,
  checkTextDepth,
  dynamoLimitRefusal,
  MAX_BODY_BYTES,
  MAX_BODY_DEPTH,
  MAX_STORED_BYTES,
  makeProxyHandler,
  parseJsonBody,
} from "../../handlers/http";
import { proxyEvent } from "../support/proxyEvents";

const request = (body: string | undefined): ApiRequest => ({
  params: {},
  query: {},
  header: () => undefined,
  body,
  actor: "admin",
  scopes: ["read", "write"],
  basePath: "",
});

/** The ServiceError `run` throws; fails the test when it throws nothing or something else. */
function refusal(run: () => unknown): ServiceError {
  try {
    run();
  } catch (error) {
    if (isServiceError(error)) return error;
    throw error;
  }
  assert.fail("expected a refusal");
}

const nested = (depth: number, open = "[", close = "]") => `${open.repeat(depth)}${close.repeat(depth)}`;
const PROTOTYPE_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"];

describe("checkTextDepth: nesting counted on the raw text", () => {
  it(`accepts ${MAX_BODY_DEPTH} levels and refuses one more, naming where`, () => {
    checkTextDepth(nested(MAX_BODY_DEPTH), MAX_BODY_DEPTH);

    const error = refusal(() => checkTextDepth(`{"a":${nested(MAX_BODY_DEPTH)}}`, MAX_BODY_DEPTH));

    assert.equal(error.code, "VALIDATION_FAILED");
    assert.match(error.message, /deeper than 64 levels .*character 68/);
  });

  it("counts no bracket inside a string, escaped quotes included", () => {
    const text = `{"a": "${"[{".repeat(100)}\\"${"[".repeat(100)}\\\\", "b": [[1]]}`;

    checkTextDepth(text, 3);
  });

  it("takes a 64 KiB body of brackets in one pass, without recursion", () => {
    const started = process.hrtime.bigint();

    refusal(() => checkTextDepth("[".repeat(MAX_BODY_BYTES), MAX_BODY_DEPTH));

    assert.ok(process.hrtime.bigint() - started < 50_000_000n);
  });
});

describe("checkKeys: no key names a property every object inherits", () => {
  for (const name of PROTOTYPE_NAMES) {
    it(`refuses '${name}' at any depth, naming the path`, () => {
      const body = JSON.parse(`{"targeting": {"if": [{"${name}": [1]}, "a", "b"]}}`);

      const error = refusal(() => checkKeys(body));

      assert.equal(error.code, "VALIDATION_FAILED");
      assert.ok(error.message.startsWith(`targeting.if.0.${name}: `), error.message);
    });
  }

  it("accepts those names as string values and as parts of longer keys", () => {
    checkKeys({ value: ["constructor", { var: "__proto__" }], my__proto__: 1, toStringish: { valueOf2: true } });
  });

  it("leaves no prototype changed behind a refused body", () => {
    refusal(() => parseJsonBody(request('{"value": {"__proto__": {"polluted": true}}}')));

    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe("parseJsonBody: cheap checks before the parse, each a 4xx", () => {
  it("refuses an empty body as INVALID_JSON", () => {
    assert.equal(refusal(() => parseJsonBody(request(""))).code, "INVALID_JSON");
    assert.equal(refusal(() => parseJsonBody(request(undefined))).code, "INVALID_JSON");
  });

  it("refuses an oversized body with 413 before looking at its nesting", () => {
    const error = refusal(() => parseJsonBody(request("[".repeat(MAX_BODY_BYTES + 1))));

    assert.equal(error.code, "PAYLOAD_TOO_LARGE");
    assert.equal(error.status, 413);
  });

  it("refuses a deep body as VALIDATION_FAILED even when it is not valid JSON", () => {
    const error = refusal(() => parseJsonBody(request(`{"expression":${"[".repeat(600)}`)));

    assert.equal(error.code, "VALIDATION_FAILED");
  });

  it("refuses numbers beyond a double and numbers that would store past the limit", () => {
    const huge = refusal(() => parseJsonBody(request('{"value": 1e999999}')));
    const longDigits = refusal(() => parseJsonBody(request(`{"value": ${"9".repeat(60_000)}}`)));
    const expanding = refusal(() => parseJsonBody(request(`{"value": [${Array(13_000).fill("1e20").join(",")}]}`)));

    assert.equal(huge.code, "VALIDATION_FAILED");
    assert.equal(longDigits.code, "VALIDATION_FAILED");
    assert.equal(expanding.code, "PAYLOAD_TOO_LARGE");
    assert.match(expanding.message, new RegExp(`limit is ${MAX_STORED_BYTES}`));
  });

  it("returns the parsed body when nothing is wrong", () => {
    assert.deepEqual(parseJsonBody(request(`{"value": ${nested(MAX_BODY_DEPTH - 1)}}`)), {
      value: JSON.parse(nested(MAX_BODY_DEPTH - 1)),
    });
  });
});

describe("flag bodies: limits before flagd-core, references within one transaction", () => {
  const withTargeting = (targeting: unknown) => ({
    flagName: "f",
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting,
  });

  it("refuses deep targeting by its depth, not by what overflowed inside flagd-core", () => {
    const targeting = JSON.parse(`${'{"and":['.repeat(30)}true${"]}".repeat(30)}`);

    const error = refusal(() => parseCreateFlag(withTargeting(targeting)));

    assert.match(error.message, /^definition: nests deeper than 32 levels/);
  });

  it("refuses a flag that references more evaluators than one transaction can count, naming the bound", () => {
    const refs = (n: number) => ({ or: Array.from({ length: n }, (_, i) => ({ $ref: `e${i}` })) });

    parseCreateFlag(withTargeting({ if: [refs(8), "on", "off"] }));
    const error = refusal(() => parseUpdateFlag(withTargeting({ if: [refs(120), "on", "off"] }), "f"));

    assert.equal(error.code, "VALIDATION_FAILED");
    assert.match(error.message, /bound: refsPerFlag 8/);
  });
});

describe("flag descriptions: text DynamoDB can store", () => {
  it("refuses an unpaired surrogate and keeps a paired one", () => {
    const error = refusal(() => parseCreateFlag(JSON.parse('{"flagName":"f","value":1,"description":"a\\ud800b"}')));
    const kept = parseCreateFlag({ flagName: "f", value: 1, description: "a\u{1F600}b" });

    assert.equal(error.code, "VALIDATION_FAILED");
    assert.match(error.message, /^description: /);
    assert.equal(kept.description, "a\u{1F600}b");
  });
});

describe("dynamoLimitRefusal: DynamoDB refusing input over its limits is the client's 400", () => {
  const validation = (message: string) =>
    Object.assign(new Error(message), { name: "ValidationException", $metadata: { httpStatusCode: 400 } });

  it("names the item, action-count and transaction-size limits", () => {
    const cases = [
      ["Item size has exceeded the maximum allowed size", /400 KB item size/],
      ["Item size to update has exceeded the maximum allowed size", /400 KB item size/],
      ["Member must have length less than or equal to 100", /100 actions/],
      ["Transaction payload size cannot exceed 4MB. Payload Size: 4290045", /4 MB transaction/],
    ] as const;
    for (const [message, limit] of cases) {
      const refused = dynamoLimitRefusal(validation(message));

      assert.equal(refused?.code, "VALIDATION_FAILED", message);
      assert.match(refused?.message ?? "", limit);
    }
  });

  it("reads a cancelled transaction's reasons and follows cause", () => {
    const cancelled = new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: [
        { Code: "None" },
        { Code: "ValidationError", Message: "Item size has exceeded the maximum allowed size" },
      ],
    });

    assert.equal(dynamoLimitRefusal(cancelled)?.status, 400);
    assert.equal(dynamoLimitRefusal(new Error("write failed", { cause: cancelled }))?.status, 400);
  });

  it("leaves every other error to be a 500", () => {
    assert.equal(
      dynamoLimitRefusal(validation("Transaction request cannot include multiple operations on one item")),
      undefined,
    );
    assert.equal(dynamoLimitRefusal(new TypeError("Item size has exceeded the maximum allowed size")), undefined);
    assert.equal(dynamoLimitRefusal("Member must have length less than or equal to 100"), undefined);
  });

  it("answers 400 and logs at WARN, so no alarm fires", async () => {
    const logged: string[] = [];
    const handler = makeProxyHandler(
      {
        "POST /flags": async () => {
          throw validation("Member must have length less than or equal to 100");
        },
      },
      { warn: () => void logged.push("WARN"), error: () => void logged.push("ERROR") },
    );

    const result = await handler(proxyEvent({ method: "POST", resource: "/flags", body: {} }));

    assert.equal(result.statusCode, 400);
    assert.equal(JSON.parse(result.body).error.code, "VALIDATION_FAILED");
    assert.deepEqual(logged, ["WARN"]);
  });
});
