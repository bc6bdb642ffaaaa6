import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { RunningService } from "../../local/service";
import { localDynamoClient } from "../../local/dynamodb";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";

/** Twelve levels of `all` over 300 literals merged with the element: 300^12 steps if it ever ran. */
function nestedBomb(levels: number, width: number): unknown {
  let rule: unknown = { var: "targetingKey" };
  for (let i = 0; i < levels; i++) {
    rule = { all: [{ merge: [Array.from({ length: width }, (_, k) => k), { var: "" }] }, rule] };
  }
  return { if: [{ var: "targetingKey" }, rule, false] };
}

const boolFlag = (flagName: string, targeting: unknown) => ({
  flagName,
  variants: { on: true, off: false },
  defaultVariant: "off",
  targeting,
});

describe("evaluation safety on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  let reader: Client;

  before(async () => {
    let as: (token: string | undefined) => Client;
    ({ service, api, as } = await startTestService());
    reader = as(READ_TOKEN);
  });
  after(() => service?.stop());

  const healthy = async () => assert.equal((await api("GET", "/health")).status, 200);
  const evaluate = (key: string, context: Record<string, unknown>) =>
    reader("POST", `/ofrep/v1/evaluate/flags/${key}`, { body: { context } });

  it("refuses the nested-iteration bomb with 400 naming the path and the bound, and keeps answering", async () => {
    const refused = await api("POST", "/flags", { body: boolFlag("bomb", nestedBomb(12, 300)) });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "VALIDATION_FAILED");
    assert.match(refused.body.error.message, /targeting\.if\[1\]\.all\[1\]\.all\[1\]\.all/);
    assert.match(refused.body.error.message, /bound: iterationNesting/);
    assert.equal((await api("GET", "/flags/bomb")).status, 404);
    await healthy();
  });

  it("refuses prototype names as operators with 400, and the process lives on", async () => {
    for (const name of ["__defineGetter__", "constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      const refused = await api("POST", "/flags", {
        body: `{"flagName":"p","variants":{"a":1},"defaultVariant":"a","targeting":{"${name}":[1]}}`,
      });
      assert.equal(refused.status, 400, name);
      assert.equal(refused.body.error.code, "VALIDATION_FAILED", name);
    }
    await healthy();
  });

  it("refuses a flag that references 120 evaluators with 400, not 500", async () => {
    const targeting = { or: Array.from({ length: 120 }, (_, i) => ({ $ref: `e${i}` })) };
    const refused = await api("POST", "/flags", { body: boolFlag("many-refs", targeting) });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /refsPerFlag|nodes/);
  });

  it("refuses an evaluator nested 600 deep with 400, not 500", async () => {
    let deep: unknown = { var: "x" };
    for (let i = 0; i < 600; i++) deep = { "!": [deep] };
    const refused = await api("PUT", "/evaluators/deep", { body: { expression: deep } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "VALIDATION_FAILED");
    await healthy();
  });

  it("gives every string of an evaluator its own meaning over OFREP ($$, $&, $`, $')", async () => {
    const plans = ["$$pro", "a$&b", "$`x", "$'y"];
    assert.ok(
      [200, 201].includes(
        (await api("PUT", "/evaluators/plans", { body: { expression: { in: [{ var: "plan" }, plans] } } })).status,
      ),
    );
    assert.equal(
      (await api("POST", "/flags", { body: boolFlag("paid", { if: [{ $ref: "plans" }, "on", "off"] }) })).status,
      201,
    );
    for (const plan of plans) {
      assert.equal((await evaluate("paid", { plan })).body.value, true, plan);
    }
    assert.equal((await evaluate("paid", { plan: "$pro" })).body.value, false);
  });

  it("refuses a context whose arrays hold arrays or objects, or that nests past 16 levels (INVALID_CONTEXT)", async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    for (const context of [{ groups: [["a"]] }, { roles: [{ name: "admin" }] }, deep]) {
      const refused = await evaluate("paid", { plan: "x", ...context });
      assert.equal(refused.status, 400, JSON.stringify(context));
      assert.equal(refused.body.errorCode, "INVALID_CONTEXT");
    }
    const flat = await evaluate("paid", { plan: "$$pro", groups: ["a", 1, true, null], user: { tier: { name: "x" } } });
    assert.equal(flat.body.value, true);
  });

  it("fails alone, with PARSE_ERROR, a definition over the bounds written straight to the table", async () => {
    assert.equal(
      (await api("POST", "/flags", { body: boolFlag("smuggled", { if: [{ var: "vip" }, "on", "off"] }) })).status,
      201,
    );
    assert.equal((await api("POST", "/flags", { body: { flagName: "neighbour", value: 42 } })).status, 201);
    const client = localDynamoClient(service.dynamoEndpoint);
    try {
      const definition = { variants: { on: true, off: false }, defaultVariant: "off", targeting: nestedBomb(12, 300) };
      await DynamoDBDocumentClient.from(client).send(
        new UpdateCommand({
          TableName: service.tableName,
          Key: { flagName: "smuggled" },
          UpdateExpression: "SET definitionJson = :d, version = version + :one",
          ExpressionAttributeValues: { ":d": JSON.stringify(definition), ":one": 1 },
        }),
      );
    } finally {
      client.destroy();
    }
    // Any change through the API moves the flag-set version, so the OFREP cache reloads.
    assert.equal((await api("PUT", "/flags/neighbour", { body: { value: 43 } })).status, 200);
    let smuggled: Awaited<ReturnType<typeof evaluate>>;
    const started = Date.now();
    do {
      smuggled = await evaluate("smuggled", { targetingKey: "user-1", vip: true });
    } while (smuggled.body.errorCode !== "PARSE_ERROR" && Date.now() - started < 5_000);
    assert.equal(smuggled.status, 400);
    assert.equal(smuggled.body.errorCode, "PARSE_ERROR");
    assert.match(smuggled.body.errorDetails, /evaluation bounds/);
    assert.equal((await evaluate("neighbour", { targetingKey: "user-1" })).body.value, 43);
    const bulk = await reader("POST", "/ofrep/v1/evaluate/flags", { body: { context: { targetingKey: "user-1" } } });
    assert.equal(bulk.status, 200);
    const byKey = new Map((bulk.body.flags as Array<{ key: string }>).map((f) => [f.key, f]));
    assert.equal((byKey.get("smuggled") as { errorCode?: string }).errorCode, "PARSE_ERROR");
    assert.equal((byKey.get("neighbour") as { value?: unknown }).value, 43);
    await healthy();
  });
});
