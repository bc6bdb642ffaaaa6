import { strict as assert } from "node:assert";
import { makeOfrepValidator } from "../support/ofrep";

const SINGLE = "/ofrep/v1/evaluate/flags/{key}";
const json = new Headers({ "Content-Type": "application/json" });

describe("the OFREP response validator (OpenAPI document, relaxed as SOURCE.md says)", () => {
  const validator = makeOfrepValidator();
  const check = (status: number, body: unknown, operation = SINGLE) =>
    validator.validate({ method: "POST", operation, status, headers: json, text: JSON.stringify(body) });

  it("accepts each value shape, a code default, and flagd's DEFAULT reason", () => {
    for (const value of [true, "s", 3, 1.5, { a: 1 }]) check(200, { key: "k", value, reason: "STATIC", variant: "v" });
    check(200, { key: "k", reason: "DISABLED" });
    check(200, { key: "k", reason: "DEFAULT" });
  });

  it("rejects values OFREP cannot carry, unknown reasons and missing keys", () => {
    for (const body of [
      { key: "k", value: [1], reason: "STATIC" },
      { key: "k", value: null, reason: "STATIC" },
      { key: "k", value: true, reason: "MAYBE" },
      { value: true, reason: "STATIC" },
      { key: "k", errorCode: "NOT_A_CODE" },
    ]) {
      assert.throws(
        () => check(body === undefined ? 200 : "errorCode" in body ? 400 : 200, body),
        JSON.stringify(body),
      );
    }
  });

  it("rejects a status the operation does not define, and a 404 that is not FLAG_NOT_FOUND", () => {
    assert.throws(() => check(409, { key: "k", errorCode: "GENERAL" }), /defines no 409/);
    assert.throws(() => check(404, { key: "k", errorCode: "GENERAL" }));
    check(404, { key: "k", errorCode: "FLAG_NOT_FOUND" });
  });

  it("checks bulk bodies item by item", () => {
    check(
      200,
      {
        flags: [
          { key: "a", value: 1, reason: "STATIC" },
          { key: "b", errorCode: "PARSE_ERROR" },
        ],
      },
      "/ofrep/v1/evaluate/flags",
    );
    assert.throws(() =>
      check(200, { flags: [{ key: "a", value: [1], reason: "STATIC" }] }, "/ofrep/v1/evaluate/flags"),
    );
  });
});
