import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { ManagementApiError, makeSignedPoster } from "../../handlers/realtime/signedPoster";

interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A Management API stand-in that answers each request with the next status of `script` (then 200)
 * and keeps what it received, to check the signature against.
 */
async function standIn(script: number[] = []) {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body });
      const status = script.shift() ?? 200;
      if (status === 200) return void response.writeHead(200).end();
      const type = { 403: "ForbiddenException", 410: "GoneException", 429: "LimitExceededException" }[status];
      response.writeHead(status, { "Content-Type": "application/json", ...(type ? { "x-amzn-ErrorType": type } : {}) });
      response.end(JSON.stringify({ message: `status ${status}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Recomputes the SigV4 signature of a received request with the secret, as API Gateway would check it. */
async function expectedAuthorization(
  request: Received,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
) {
  const amzDate = String(request.headers["x-amz-date"]);
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signedNames = /SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))?.[1].split(";") ?? [];
  const headers = Object.fromEntries(signedNames.map((name) => [name, String(request.headers[name])]));
  // A signed payload hash header, if any, must be the hash of the body that arrived.
  if ("x-amz-content-sha256" in headers)
    headers["x-amz-content-sha256"] = createHash("sha256").update(request.body).digest("hex");
  const [path] = request.path.split("?");
  const signed = await new SignatureV4({
    service: "execute-api",
    region: "eu-west-1",
    credentials,
    sha256: Sha256,
    applyChecksum: "x-amz-content-sha256" in headers,
  }).sign(
    { method: request.method, protocol: "http:", hostname: "127.0.0.1", path, query: {}, headers, body: request.body },
    { signingDate },
  );
  return signed.headers.authorization;
}

describe("signed poster (PostToConnection as a SigV4-signed POST)", () => {
  let api: Awaited<ReturnType<typeof standIn>>;
  afterEach(() => api?.stop());

  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "session-token" };

  it("posts the message to {stage}/@connections/{id}, signed for execute-api with the session token", async () => {
    api = await standIn();
    const post = makeSignedPoster({
      endpoint: `${api.endpoint}/dev`,
      region: "eu-west-1",
      credentials: async () => credentials,
      maxSockets: 10,
    });
    const message = { type: "flag.deleted", flagName: "x", version: 3 } as const;
    assert.equal(await post("a+b/c=", message), "sent");
    assert.equal(await post("second", "raw text"), "sent");

    const [first, second] = api.received;
    assert.equal(first.method, "POST");
    assert.equal(first.path, "/dev/@connections/a%2Bb%2Fc%3D");
    assert.deepEqual(JSON.parse(first.body), message);
    assert.equal(second.body, "raw text");
    assert.match(
      String(first.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*\bhost\b[^,]*, Signature=[0-9a-f]{64}$/,
    );
    assert.match(String(first.headers["x-amz-date"]), /^\d{8}T\d{6}Z$/);
    assert.equal(first.headers["x-amz-security-token"], "session-token");
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(first.headers.authorization))?.[1].split(";");
    assert.ok(signedHeaders?.includes("x-amz-date") && signedHeaders.includes("x-amz-security-token"));
    // The signature covers exactly what arrived: path, body and signed headers.
    for (const request of api.received) {
      assert.equal(request.headers.authorization, await expectedAuthorization(request, credentials));
    }
  });

  it("sends no security token without a session token, and a tampered body no longer matches", async () => {
    api = await standIn();
    const plain = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
    const post = makeSignedPoster({ endpoint: api.endpoint, region: "eu-west-1", credentials: plain, maxSockets: 1 });
    assert.equal(await post("c1", "hello"), "sent");
    const [request] = api.received;
    assert.equal(request.path, "/@connections/c1");
    assert.equal(request.headers["x-amz-security-token"], undefined);
    assert.equal(request.headers.authorization, await expectedAuthorization(request, plain));
    assert.notEqual(request.headers.authorization, await expectedAuthorization({ ...request, body: "hellO" }, plain));
  });

  it("resolves the credentials once for many posts while they are far from expiry", async () => {
    api = await standIn();
    let resolved = 0;
    const expiration = new Date(Date.now() + 60 * 60_000);
    const post = makeSignedPoster({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials: async () => (resolved++, { ...credentials, expiration }),
      maxSockets: 2,
    });

    await Promise.all([post("c1", "m"), post("c2", "m")]);
    await post("c3", "m");

    assert.equal(resolved, 1);
  });

  it("resolves the credentials again when they expire within 5 minutes", async () => {
    api = await standIn();
    let resolved = 0;
    const expiration = new Date(Date.now() + 60_000);
    const post = makeSignedPoster({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials: async () => (resolved++, { ...credentials, expiration }),
      maxSockets: 1,
    });

    await post("c1", "m");
    const afterFirst = resolved;
    await post("c2", "m");

    assert.ok(afterFirst >= 1 && resolved > afterFirst, `resolved ${afterFirst}, then ${resolved}`);
  });

  it("resolves the credentials again after a failed resolution", async () => {
    api = await standIn();
    let resolved = 0;
    const post = makeSignedPoster({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials: async () => {
        resolved++;
        if (resolved === 1) throw new Error("credentials not there yet");
        return credentials;
      },
      maxSockets: 1,
    });

    await assert.rejects(post("c1", "m"), /credentials not there yet/);
    assert.equal(await post("c1", "m"), "sent");

    assert.equal(resolved, 2);
    assert.equal(api.received.length, 1);
  });

  it("answers gone on 410, without retrying", async () => {
    api = await standIn([410]);
    const post = makeSignedPoster({ endpoint: api.endpoint, region: "eu-west-1", credentials, maxSockets: 1 });
    assert.equal(await post("left", "m"), "gone");
    assert.equal(api.received.length, 1);
  });

  it("retries a throttled (429) post with backoff, then succeeds", async () => {
    api = await standIn([429, 429, 503]);
    const post = makeSignedPoster({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials,
      maxSockets: 1,
      baseDelayMs: 5,
    });
    assert.equal(await post("busy", "m"), "sent");
    assert.equal(api.received.length, 4);
    assert.ok(api.received.every((request) => request.body === "m" && request.path === "/@connections/busy"));
  });

  it("gives up on 5xx after the bounded attempts, with the status in the error", async () => {
    api = await standIn([500, 500, 500, 500, 500]);
    const post = makeSignedPoster({
      endpoint: api.endpoint,
      region: "eu-west-1",
      credentials,
      maxSockets: 1,
      maxAttempts: 3,
      baseDelayMs: 1,
    });
    await assert.rejects(post("down", "m"), (error: unknown) => {
      assert.ok(error instanceof ManagementApiError);
      assert.equal(error.statusCode, 500);
      assert.equal(error.$metadata.attempts, 3);
      return true;
    });
    assert.equal(api.received.length, 3);
  });

  it("throws a forbidden (403) at once, named as API Gateway names it", async () => {
    api = await standIn([403]);
    const post = makeSignedPoster({ endpoint: api.endpoint, region: "eu-west-1", credentials, maxSockets: 1 });
    await assert.rejects(post("nope", "m"), { name: "ForbiddenException", statusCode: 403, message: "status 403" });
    assert.equal(api.received.length, 1);
  });

  it("retries a dropped connection and gives up when the endpoint stays unreachable", async () => {
    api = await standIn();
    const endpoint = api.endpoint;
    await api.stop();
    const post = makeSignedPoster({
      endpoint,
      region: "eu-west-1",
      credentials,
      maxSockets: 1,
      maxAttempts: 2,
      baseDelayMs: 1,
    });
    await assert.rejects(post("x", "m"), { code: "ECONNREFUSED" });
  });
});
