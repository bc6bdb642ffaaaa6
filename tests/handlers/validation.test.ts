import { strict as assert } from "node:assert";
import { decodeCursor, encodeCursor } from "../../handlers/flags/cursor";
import {
  jsonDepth,
  MAX_VALUE_BYTES,
  parseCreateFlag,
  parseIfMatch,
  parseLimit,
  parseUpdateFlag,
} from "../../handlers/flags/validation";

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe("flag validation", () => {
  describe("parseCreateFlag", () => {
    it("accepts every JSON value kind but null", () => {
      for (const value of [true, 0, -1.5, "on", { a: [1] }, [1, "two"], ""]) {
        assert.deepEqual(parseCreateFlag({ flagName: "f", value }), { flagName: "f", value });
      }
    });

    it("refuses a null or missing value", () => {
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f", value: null })),
        "VALIDATION_FAILED",
      );
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f" })),
        "VALIDATION_FAILED",
      );
    });

    it("refuses names outside ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", () => {
      for (const flagName of ["", "-lead", ".x", "a b", "ünï", "a/b", "x".repeat(129), 7]) {
        assert.equal(
          codeOf(() => parseCreateFlag({ flagName, value: 1 })),
          "VALIDATION_FAILED",
          String(flagName),
        );
      }
      assert.doesNotThrow(() => parseCreateFlag({ flagName: `A${"z".repeat(127)}`, value: 1 }));
    });

    it("refuses unknown fields but ignores the ones the service sets", () => {
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f", value: 1, vaule: 2 })),
        "VALIDATION_FAILED",
      );
      assert.deepEqual(parseCreateFlag({ flagName: "f", value: 1, version: 9, createdAt: "x" }), {
        flagName: "f",
        value: 1,
      });
    });

    it("answers 413 for a value over 32 KiB and accepts one at the limit", () => {
      const atLimit = "x".repeat(MAX_VALUE_BYTES - 2); // two bytes of quotes
      assert.doesNotThrow(() => parseCreateFlag({ flagName: "f", value: atLimit }));
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f", value: `${atLimit}x` })),
        "PAYLOAD_TOO_LARGE",
      );
    });

    it("refuses a description over 1024 characters and a non-object body", () => {
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f", value: 1, description: "d".repeat(1025) })),
        "VALIDATION_FAILED",
      );
      assert.equal(
        codeOf(() => parseCreateFlag([{ flagName: "f", value: 1 }])),
        "VALIDATION_FAILED",
      );
      assert.equal(
        codeOf(() => parseCreateFlag("f")),
        "VALIDATION_FAILED",
      );
    });

    it("refuses values nested deeper than 32 levels without overflowing the stack", () => {
      const deep = JSON.parse(`${"[".repeat(20_000)}${"]".repeat(20_000)}`);
      assert.equal(
        codeOf(() => parseCreateFlag({ flagName: "f", value: deep })),
        "VALIDATION_FAILED",
      );
      assert.equal(jsonDepth({ a: { b: [1] } }), 3);
    });
  });

  describe("parseUpdateFlag", () => {
    it("keeps an optional flagName and description", () => {
      assert.deepEqual(parseUpdateFlag({ value: false, description: "", flagName: "f" }), {
        value: false,
        description: "",
        flagName: "f",
      });
    });
  });

  describe("clientSide", () => {
    it("is accepted as a boolean on create and update, and absent when not sent", () => {
      assert.equal(parseCreateFlag({ flagName: "f", value: 1, clientSide: true }).clientSide, true);
      assert.equal(parseCreateFlag({ flagName: "f", value: 1, clientSide: false }).clientSide, false);
      assert.equal("clientSide" in parseCreateFlag({ flagName: "f", value: 1 }), false);
      assert.equal(parseUpdateFlag({ value: 1, clientSide: true }).clientSide, true);
      assert.equal(parseUpdateFlag({ value: 1, clientSide: false }).clientSide, false);
      assert.equal("clientSide" in parseUpdateFlag({ value: 1 }), false, "an omitted clientSide keeps the stored one");
    });

    it("refuses anything but a boolean, naming the field", () => {
      for (const clientSide of ["true", 1, 0, null, [], {}, "yes"]) {
        for (const parse of [
          () => parseCreateFlag({ flagName: "f", value: 1, clientSide }),
          () => parseUpdateFlag({ value: 1, clientSide }),
        ]) {
          assert.throws(parse, (error: { code?: string; message?: string }) => {
            assert.equal(error.code, "VALIDATION_FAILED", JSON.stringify(clientSide));
            assert.match(error.message ?? "", /clientSide: clientSide must be a boolean/);
            return true;
          });
        }
      }
    });
  });

  describe("query and header parsing", () => {
    it("accepts limits 1..100 only", () => {
      assert.equal(parseLimit(undefined), 100);
      assert.equal(parseLimit("1"), 1);
      for (const raw of ["0", "101", "-1", "1.5", "abc", "", "1e2"]) {
        assert.equal(
          codeOf(() => parseLimit(raw)),
          "VALIDATION_FAILED",
          raw,
        );
      }
    });

    it("reads If-Match as a bare or ETag-quoted version", () => {
      assert.equal(parseIfMatch("3"), 3);
      assert.equal(parseIfMatch('"3"'), 3);
      assert.equal(parseIfMatch('W/"12"'), 12);
      assert.equal(parseIfMatch(undefined), undefined);
      for (const raw of ["*", "0", "three", "-1"])
        assert.equal(
          codeOf(() => parseIfMatch(raw)),
          "VALIDATION_FAILED",
          raw,
        );
    });

    it("round-trips its own cursors and refuses forged ones", () => {
      assert.equal(decodeCursor(encodeCursor("my.flag")), "my.flag");
      for (const forged of [
        "",
        "!!",
        Buffer.from('{"k":"../x"}').toString("base64url"),
        Buffer.from("[]").toString("base64url"),
      ]) {
        assert.equal(
          codeOf(() => decodeCursor(forged)),
          "VALIDATION_FAILED",
          forged,
        );
      }
    });
  });
});
