import { strict as assert } from "node:assert";
import * as net from "node:net";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { ADMIN_TOKEN } from "../support/tokens";

/** Writes raw bytes to the port and reads the whole answer (the server closes after it). */
function rawRequest(port: number, bytes: string | Buffer): Promise<{ status: number; body: any; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString("utf8")));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head, body = ""] = data.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      try {
        resolve({ status, head, body: JSON.parse(body) });
      } catch {
        resolve({ status, head, body });
      }
    });
    socket.end(bytes);
  });
}

describe("every response on the public port is the contract's", () => {
  let service: RunningService;
  let api: Client;

  before(async () => ({ service, api } = await startTestService()));
  after(() => service.stop());

  it("answers a malformed request line with 400 BAD_REQUEST and the error body", async () => {
    const result = await rawRequest(service.port, "GARBAGE\r\n\r\n");
    assert.equal(result.status, 400);
    assert.equal(result.body.error.code, "BAD_REQUEST");
    assert.match(result.head, /Content-Type: application\/json/i);
  });

  it("answers headers over Node's limit with 431 HEADERS_TOO_LARGE and the error body", async () => {
    const result = await rawRequest(
      service.port,
      `GET /flags HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(result.status, 431);
    assert.equal(result.body.error.code, "HEADERS_TOO_LARGE");
  });

  it("keeps the Management API stand-in off the public port (404 ROUTE_NOT_FOUND, signed or not)", async () => {
    for (const method of ["POST", "DELETE", "GET"]) {
      const result = await api(method, "/@connections/abc", {
        body: method === "POST" ? "hello" : undefined,
        headers: { Authorization: `AWS4-HMAC-SHA256 Credential=LOCAL0000/20260101/local/execute-api/aws4_request` },
      });
      assert.equal(result.status, 404, `${method} → ${result.status}`);
      assert.equal(result.body.error.code, "ROUTE_NOT_FOUND");
    }
  });

  it("answers unknown routes with 404 ROUTE_NOT_FOUND", async () => {
    const result = await api("GET", "/nowhere");
    assert.equal(result.status, 404);
    assert.equal(result.body.error.code, "ROUTE_NOT_FOUND");
  });
});

describe("values are kept exactly or refused (local runtime)", () => {
  let service: RunningService;
  let api: Client;

  before(async () => ({ service, api } = await startTestService()));
  after(() => service.stop());

  const create = (flagName: string, valueJson: string) =>
    api("POST", "/flags", { body: `{"flagName": "${flagName}", "value": ${valueJson}}` });

  for (const [what, valueJson, where] of [
    ["a number beyond double range (1e400, would become null)", "1e400", "value"],
    ["an integer longer than a double keeps (would be rounded)", '{"big": [12345678901234567890123]}', "value.big.0"],
    ["a number that underflows to 0", "1e-400", "value"],
    ["a decimal with more digits than a double keeps", "0.10000000000000000555", "value"],
  ]) {
    it(`refuses ${what} with 400 VALIDATION_FAILED naming ${where}, and stores nothing`, async () => {
      const result = await create("inexact", valueJson);
      assert.equal(result.status, 400);
      assert.equal(result.body.error.code, "VALIDATION_FAILED");
      assert.ok(result.body.error.message.startsWith(`${where}:`), result.body.error.message);
      assert.equal((await api("GET", "/flags/inexact")).status, 404);
    });
  }

  it("keeps numbers a double holds exactly, digit for digit", async () => {
    const value = { max: 9007199254740992, big: 1.7976931348623157e308, tiny: 5e-324, plain: 0.1, neg: -12.5 };
    const created = await create("exact", JSON.stringify(value));
    assert.equal(created.status, 201);
    const read = await fetch(`${service.url}/flags/exact`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.match(await read.text(), /"value":\{"max":9007199254740992,"big":1\.7976931348623157e\+308,"tiny":5e-324/);
  });

  it("refuses a body that is not valid UTF-8 with 400 INVALID_JSON, and stores nothing", async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"flagName": "not-utf8", "value": "'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    const response = await fetch(`${service.url}/flags`, {
      method: "POST",
      body: bytes,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as any).error.code, "INVALID_JSON");
    assert.equal((await api("GET", "/flags/not-utf8")).status, 404);
  });

  it("accepts U+FFFD sent as a real character", async () => {
    const result = await api("POST", "/flags", { body: { flagName: "replacement-char", value: "a\uFFFDb" } });
    assert.equal(result.status, 201);
    assert.equal(result.body.value, "a\uFFFDb");
  });
});
