import { strict as assert } from "node:assert";
import { queryToken } from "../../handlers/auth/authorizers";
import { type RunningService, startService } from "../../local/service";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { connect } from "../support/wsClient";

/** A base64 token: `+` and `/` are what `openssl rand -base64` makes and what URLs mangle. */
const BASE64_TOKEN = "q+Z/8kP+4nW/r2Ld+Yx0/Vb7Tm+Hc3/Q9sA+gE1=";

describe("?token= with + and / (WebSocket authorizer)", () => {
  let service: RunningService;

  before(async () => {
    const dynamo = await sharedDynamo();
    service = await startService({
      port: 0,
      dynamoEndpoint: dynamo.endpoint,
      tableName: uniqueTableName("tokens"),
      connectionsTableName: uniqueTableName("tokens-conns"),
      allowFlagDeletion: () => true,
      tokens: [{ id: "base64", token: BASE64_TOKEN, scopes: ["read"] }],
    });
  });
  after(() => service.stop());

  for (const [how, query] of [
    ["percent-encoded", encodeURIComponent(BASE64_TOKEN)],
    ["not encoded at all", BASE64_TOKEN],
  ]) {
    it(`admits the token ${how}`, async () => {
      const client = await connect(`${service.websocketUrl}?token=${query}`);
      await client.waitFor((m) => m.type === "snapshot");
      await client.close();
    });
  }

  it("still refuses a different token", async () => {
    await assert.rejects(connect(`${service.websocketUrl}?token=${BASE64_TOKEN.replace("q", "r")}`), /HTTP 401/);
  });

  it("reads spaces back as + and decodes leftover percent-encoding once", () => {
    assert.equal(queryToken("a b/c"), "a+b/c");
    assert.equal(queryToken("a%2Bb%2Fc"), "a+b/c");
    assert.equal(queryToken("100%"), "100%");
    assert.equal(queryToken(undefined), undefined);
  });
});
