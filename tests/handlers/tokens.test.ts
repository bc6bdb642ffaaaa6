import { strict as assert } from "node:assert";
import {
  bearerToken,
  grants,
  hashToken,
  isClientKey,
  parseTokenRecords,
  principalContext,
  principalFromContext,
  toTokenRecords,
  verifyToken,
} from "../../handlers/auth/tokens";

const ADMIN = "admin-token-0123456789abcdefghij";
const READER = "reader-token-0123456789abcdefghij";

describe("token verification", () => {
  const records = toTokenRecords([
    { id: "admin", token: ADMIN, scopes: ["read", "write"] },
    { id: "reader", token: READER, scopes: ["read"] },
  ]);

  it("keeps only hashes: no record holds the token", () => {
    assert.ok(!JSON.stringify(records).includes(ADMIN));
    assert.equal(records[0].sha256, hashToken(ADMIN));
  });

  it("identifies each known token with its scopes", () => {
    assert.deepEqual(verifyToken(ADMIN, records), { tokenId: "admin", scopes: ["read", "write"] });
    assert.deepEqual(verifyToken(READER, records), { tokenId: "reader", scopes: ["read"] });
  });

  it("rejects unknown, empty and absent tokens", () => {
    for (const token of [`${ADMIN}x`, ADMIN.slice(1), "", undefined])
      assert.equal(verifyToken(token, records), undefined);
    assert.equal(verifyToken(ADMIN, []), undefined);
  });

  it("reads only well-formed Bearer headers", () => {
    assert.equal(bearerToken(`Bearer ${ADMIN}`), ADMIN);
    assert.equal(bearerToken(`bearer ${ADMIN}`), ADMIN);
    for (const header of [undefined, "", ADMIN, `Basic ${ADMIN}`, "Bearer", "Bearer ", `Bearer ${ADMIN} extra`]) {
      assert.equal(bearerToken(header), undefined, String(header));
    }
  });

  it("lets write do everything and read only read", () => {
    assert.equal(grants(["write"], "read"), true);
    assert.equal(grants(["read"], "write"), false);
    assert.equal(grants(["read"], "read"), true);
  });

  it("lets evaluate (a client key) evaluate and nothing else; read and write evaluate too", () => {
    assert.equal(grants(["evaluate"], "evaluate"), true);
    assert.equal(grants(["evaluate"], "read"), false);
    assert.equal(grants(["evaluate"], "write"), false);
    assert.equal(grants(["read"], "evaluate"), true);
    assert.equal(grants(["write"], "evaluate"), true);
    assert.equal(isClientKey(["evaluate"]), true);
    assert.equal(isClientKey(["evaluate", "read"]), false, "a token with read is a server key");
    assert.equal(isClientKey(["read"]), false);
    assert.equal(isClientKey(["write"]), false);
  });

  it("round-trips a principal through the authorizer context", () => {
    const principal = { tokenId: "admin", scopes: ["read", "write"] as const };
    assert.deepEqual(principalFromContext(principalContext({ ...principal, scopes: [...principal.scopes] })), {
      tokenId: "admin",
      scopes: ["read", "write"],
    });
    assert.equal(principalFromContext(null), undefined);
    assert.equal(principalFromContext({ tokenId: "", scopes: "read" }), undefined);
  });

  describe("configuration", () => {
    it("refuses short tokens, naming how to make a strong one", () => {
      assert.throws(
        () => toTokenRecords([{ id: "x", token: "short", scopes: ["read"] }]),
        /at least 24 .*openssl rand/,
      );
    });

    it("refuses unknown scopes, duplicate ids and a non-array", () => {
      const token = "y".repeat(30);
      assert.throws(() => toTokenRecords([{ id: "x", token, scopes: ["admin"] }]), /apiTokens\[0\]\.scopes/);
      // The message lists every scope there is, evaluate included.
      assert.throws(
        () => toTokenRecords([{ id: "x", token, scopes: ["client"] }]),
        /must be a non-empty subset of \["read","write","evaluate"\]/,
      );
      assert.deepEqual(toTokenRecords([{ id: "web", token, scopes: ["evaluate"] }])[0].scopes, ["evaluate"]);
      assert.throws(
        () =>
          toTokenRecords([
            { id: "x", token, scopes: ["read"] },
            { id: "x", token: `${token}z`, scopes: ["read"] },
          ]),
        /used twice/,
      );
      assert.throws(() => toTokenRecords({ id: "x" }), /JSON array/);
    });

    it("refuses stored records that are not {id, sha256, scopes}", () => {
      assert.deepEqual(parseTokenRecords(JSON.stringify(records)), records);
      assert.throws(() => parseTokenRecords('[{"id":"x","sha256":"nothex","scopes":["read"]}]'));
      assert.throws(() => parseTokenRecords("{}"));
    });
  });
});
