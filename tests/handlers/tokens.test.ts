import { strict as assert } from "node:assert";
import { DeleteItemCommand, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makeTokenTable, tokenItem } from "../../handlers/auth/tokenTable";
import {
  bearerToken,
  grants,
  hashToken,
  isClientKey,
  lookUpToken,
  principalContext,
  principalFromContext,
  toTokenRecords,
  verifyToken,
} from "../../handlers/auth/tokens";
import {
  CREDENTIAL_WINDOW_SECONDS,
  issueStreamCredential,
  streamCredentialTokenId,
  verifyStreamCredential,
} from "../../handlers/ofrep/streamCredential";
import { localDynamoClient } from "../../local/dynamodb";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { createTokensTable, putTokens } from "../support/tokenTable";

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
  });
});

describe("tokens table (DynamoDB Local)", () => {
  const records = toTokenRecords([
    { id: "admin", token: ADMIN, scopes: ["read", "write"] },
    { id: "reader", token: READER, scopes: ["read"] },
  ]);
  let client: DynamoDBClient;
  let tableName: string;
  let now: number;
  const table = (maxEntries?: number) =>
    makeTokenTable({
      doc: DynamoDBDocumentClient.from(client),
      tableName,
      maxAgeSeconds: 60,
      maxEntries,
      clock: () => now,
    });

  before(async () => {
    client = localDynamoClient((await sharedDynamo()).endpoint);
    tableName = uniqueTableName("tokens");
    await createTokensTable(client, tableName, records);
  });
  after(() => client.destroy());
  beforeEach(() => {
    now = 1_000_000;
  });

  it("finds a token's principal by its hash and a record by its id, and nothing for an unknown token", async () => {
    const tokens = table();
    assert.deepEqual(await lookUpToken(ADMIN, tokens), { tokenId: "admin", scopes: ["read", "write"] });
    assert.deepEqual(await lookUpToken(READER, tokens), { tokenId: "reader", scopes: ["read"] });
    for (const token of [`${ADMIN}x`, "", undefined]) assert.equal(await lookUpToken(token, tokens), undefined);
    assert.deepEqual(await tokens.byId("reader"), [records[1]]);
    assert.deepEqual(await tokens.byId("nobody"), []);
  });

  it("keeps an answer for the cache age, then reads again: a revoked token stops, an added one starts", async () => {
    const tokens = table();
    const late = "added-later-token-0123456789abcdef";
    const [added] = toTokenRecords([{ id: "late", token: late, scopes: ["evaluate"] }]);
    assert.equal(await lookUpToken(late, tokens), undefined);
    await putTokens(client, tableName, [added]);
    now += 59_000;
    assert.equal(await lookUpToken(late, tokens), undefined, "the miss is remembered within the cache age");
    now += 1_000;
    assert.deepEqual(await lookUpToken(late, tokens), { tokenId: "late", scopes: ["evaluate"] });
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: { sha256: { S: added.sha256 } } }));
    now += 60_000;
    assert.equal(await lookUpToken(late, tokens), undefined);
  });

  it("remembers at most maxEntries answers: a scanner's misses cannot grow an instance's memory", async () => {
    const tokens = table(2);
    await lookUpToken(ADMIN, tokens);
    await lookUpToken("scanner-guess-1-0123456789abcdef", tokens);
    await lookUpToken("scanner-guess-2-0123456789abcdef", tokens);
    // ADMIN's answer was the oldest and is gone: revoking it is seen at once by this instance.
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: { sha256: { S: records[0].sha256 } } }));
    try {
      assert.equal(await lookUpToken(ADMIN, tokens), undefined);
    } finally {
      await putTokens(client, tableName, [records[0]]);
    }
  });

  it("refuses a malformed item rather than trusting part of it, and does not remember a failed read", async () => {
    const token = "malformed-item-token-0123456789abcdef";
    const sha256 = hashToken(token);
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { sha256: { S: sha256 }, id: { S: "x" }, scopes: { SS: ["admin"] } },
      }),
    );
    const tokens = table();
    await assert.rejects(lookUpToken(token, tokens), /not \{sha256, id, scopes\}/);
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { sha256: { S: sha256 }, id: { S: "x" }, scopes: { SS: ["read"] } },
      }),
    );
    assert.deepEqual(await lookUpToken(token, tokens), { tokenId: "x", scopes: ["read"] });
  });

  it("reads the item format that Pulumi and `aws dynamodb put-item` write", () => {
    assert.deepEqual(tokenItem(records[1]), {
      sha256: { S: hashToken(READER) },
      id: { S: "reader" },
      scopes: { SS: ["read"] },
    });
  });
});

describe("stream credential lookup by id", () => {
  const [record] = toTokenRecords([{ id: "web.shop", token: ADMIN, scopes: ["evaluate"] }]);
  const [sameId] = toTokenRecords([{ id: "web.shop", token: READER, scopes: ["evaluate"] }]);
  const now = 1_800_000_000_000;

  it("names the token id of a well-formed, unexpired credential, and nothing else to look up", () => {
    const credential = issueStreamCredential(record, now);
    assert.equal(streamCredentialTokenId(credential, now), "web.shop");
    assert.equal(streamCredentialTokenId(credential, now + 2 * CREDENTIAL_WINDOW_SECONDS * 1000), undefined);
    const [, expires, signature] = /^web\.shop\.(\d+)\.(.+)$/.exec(credential) ?? [];
    for (const id of ["", "a b", "x".repeat(65), "ü"]) {
      assert.equal(streamCredentialTokenId(`${id}.${expires}.${signature}`, now), undefined, JSON.stringify(id));
    }
  });

  it("verifies against the record that signed it among records sharing its id", () => {
    const credential = issueStreamCredential(sameId, now);
    assert.deepEqual(verifyStreamCredential(credential, [record, sameId], now), {
      tokenId: "web.shop",
      scopes: ["evaluate"],
    });
    assert.equal(verifyStreamCredential(credential, [record], now), undefined);
  });
});

describe("stream credential signature spelling", () => {
  const [record] = toTokenRecords([{ id: "web", token: ADMIN, scopes: ["evaluate"] }]);

  it("refuses every other spelling of the signature's last character, padding bits included", () => {
    const now = 1_800_000_000_000;
    const credential = issueStreamCredential(record, now);
    assert.equal(verifyStreamCredential(credential, [record], now)?.tokenId, "web");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const last of alphabet) {
      if (last === credential.at(-1)) continue;
      assert.equal(verifyStreamCredential(`${credential.slice(0, -1)}${last}`, [record], now), undefined, last);
    }
  });
});
