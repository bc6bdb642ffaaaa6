import { strict as assert } from "node:assert";
import { type TokenRecord, hashToken, toTokenRecords } from "../../handlers/auth/tokens";
import { CREDENTIAL_WINDOW_SECONDS, issueStreamCredential } from "../../handlers/ofrep/streamCredential";
import type { RunningService } from "../../local/service";
import { setClientSide } from "../support/clientSide";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { makeOfrepValidator, ofrepClient } from "../support/ofrep";
import { openSse, refetchOf, type SseBlock, type SseConnection } from "../support/sse";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";

const ORIGIN = "https://shop.example.com";
const RECORDS: TokenRecord[] = toTokenRecords(TEST_TOKENS);
const record = (id: string) => RECORDS.find((r) => r.id === id) as TokenRecord;

const isRefetch = (block: SseBlock) => refetchOf(block) !== undefined;

describe("OFREP event streams on the local runtime (GET /ofrep/v1/events)", () => {
  let service: RunningService;
  let api: Client;
  const validator = makeOfrepValidator();
  let reader: ReturnType<typeof ofrepClient>;
  let client: ReturnType<typeof ofrepClient>;
  const open: SseConnection[] = [];

  /** The stream URL a token's bulk evaluation hands out. */
  const streamUrlFor = async (ofrep: ReturnType<typeof ofrepClient>, context: unknown = {}) => {
    const bulk = await ofrep.bulk(context);
    assert.equal(bulk.status, 200);
    return bulk.body.eventStreams[0].url as string;
  };
  const connect = async (url: string, headers: Record<string, string> = {}) => {
    const connection = await openSse(url, headers);
    open.push(connection);
    return connection;
  };

  before(async () => {
    ({ service, api } = await startTestService({ corsOrigins: [ORIGIN] }));
    reader = ofrepClient(service.url, READ_TOKEN, validator);
    client = ofrepClient(service.url, CLIENT_TOKEN, validator);
    for (const flagName of ["public-banner", "server-only"]) {
      assert.equal((await api("POST", "/flags", { body: { flagName, value: 1 } })).status, 201);
    }
    await setClientSide(service, "public-banner");
  });
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });
  after(() => service?.stop());

  describe("the bulk response", () => {
    it("carries one sse entry: an absolute URL on this origin with a credential, and inactivityDelaySec", async () => {
      const bulk = await reader.bulk({});
      assert.equal(bulk.status, 200);
      assert.equal(bulk.body.eventStreams.length, 1);
      const [entry] = bulk.body.eventStreams;
      assert.equal(entry.type, "sse");
      assert.equal(entry.inactivityDelaySec, 60);
      const url = new URL(entry.url);
      assert.equal(url.origin, service.url);
      assert.equal(url.pathname, "/ofrep/v1/events");
      assert.match(url.searchParams.get("c") ?? "", /^reader\.[0-9]+\.[A-Za-z0-9_-]{43}$/);
      assert.match(url.searchParams.get("v") ?? "", /^[A-Za-z0-9_-]{22}$/);
    });

    it("never puts a token, or its stored hash, in the URL", async () => {
      for (const [ofrep, token] of [
        [reader, READ_TOKEN],
        [client, CLIENT_TOKEN],
        [ofrepClient(service.url, ADMIN_TOKEN, validator), ADMIN_TOKEN],
      ] as const) {
        const url = await streamUrlFor(ofrep);
        assert.ok(!url.includes(token), url);
        assert.ok(!url.includes(encodeURIComponent(token)), url);
        assert.ok(!url.includes(hashToken(token)), url);
      }
    });

    it("keeps the same URL, and so the same ETag and its 304, while nothing changes", async () => {
      const first = await reader.bulk({ targetingKey: "u" });
      const again = await reader.bulk({ targetingKey: "u" }, { "If-None-Match": first.headers.get("etag") as string });
      assert.equal(again.status, 304);
    });
  });

  describe("a stream", () => {
    it("answers with SSE headers, retry, and an id-only first event naming the current configuration", async () => {
      const url = await streamUrlFor(reader);
      const stream = await connect(url);
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
      assert.equal(stream.headers.get("cache-control"), "no-cache");
      const first = await stream.next();
      assert.equal(first.retry, 1000);
      assert.equal(first.id, new URL(url).searchParams.get("v"));
      assert.equal(first.data, undefined, "dispatches nothing");
    });

    it("sends refetchEvaluation within a second of a change, its etag as the event id", async () => {
      const url = await streamUrlFor(reader);
      const stream = await connect(url);
      await stream.next((block) => block.id !== undefined);
      const changedAt = Date.now();
      assert.equal((await api("PUT", "/flags/server-only", { body: { value: 2 } })).status, 200);
      const event = await stream.next(isRefetch, 1000);
      assert.ok(event.at - changedAt < 1000, `${event.at - changedAt} ms`);
      const data = refetchOf(event);
      assert.equal(event.event, "message");
      assert.equal(event.id, data?.etag);
      assert.notEqual(data?.etag, new URL(url).searchParams.get("v"));
      assert.ok(Math.abs((data?.lastModified ?? 0) - Date.now() / 1000) < 5, "lastModified in Unix seconds");
    });

    it("tells a client key nothing of a server-only flag's change, and tells a read token", async () => {
      const clientStream = await connect(await streamUrlFor(client));
      const readerStream = await connect(await streamUrlFor(reader));
      await clientStream.next((block) => block.id !== undefined);
      await readerStream.next((block) => block.id !== undefined);

      assert.equal((await api("PUT", "/flags/server-only", { body: { value: 3 } })).status, 200);
      await readerStream.next(isRefetch, 1000);
      // Well past the reader's event and many of the client's polls.
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.deepEqual(clientStream.blocks.filter(isRefetch), []);

      assert.equal((await api("PUT", "/flags/public-banner", { body: { value: 3 } })).status, 200);
      await clientStream.next(isRefetch, 1000);
    });

    it("sends refetchEvaluation at once when the configuration moved between the bulk and the connect", async () => {
      const url = await streamUrlFor(client);
      assert.equal((await api("PUT", "/flags/public-banner", { body: { value: 4 } })).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stream = await connect(url);
      const event = await stream.next((block) => block.id !== undefined);
      assert.ok(refetchOf(event), JSON.stringify(event));
    });

    it("resumes from Last-Event-ID: nothing when it names the current configuration, an event when older", async () => {
      const url = await streamUrlFor(client);
      const current = new URL(url).searchParams.get("v") as string;
      const stale = new URL(url);
      stale.searchParams.set("v", "an-old-configuration");
      // An EventSource reconnects to the same (old) URL with the id it last saw.
      const resumed = await connect(stale.toString(), { "Last-Event-ID": current });
      const first = await resumed.next((block) => block.id !== undefined);
      assert.equal(first.id, current);
      assert.equal(first.data, undefined);
      const behind = await connect(url, { "Last-Event-ID": "an-old-configuration" });
      assert.ok(refetchOf(await behind.next((block) => block.id !== undefined)));
    });

    it("answers a preflight and carries CORS headers for an allowed origin", async () => {
      const preflight = await fetch(`${service.url}/ofrep/v1/events`, {
        method: "OPTIONS",
        headers: { Origin: ORIGIN, "Access-Control-Request-Method": "GET" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
      const stream = await connect(await streamUrlFor(client), { Origin: ORIGIN });
      assert.equal(stream.headers.get("access-control-allow-origin"), ORIGIN);
      const refused = await connect(`${service.url}/ofrep/v1/events?c=nope`, { Origin: ORIGIN });
      assert.equal(refused.headers.get("access-control-allow-origin"), ORIGIN);
    });
  });

  describe("the credential", () => {
    const refusedWith401 = async (url: string) => {
      const stream = await connect(url);
      assert.equal(stream.status, 401, url);
      assert.equal((stream.body as { error: { code: string } }).error.code, "UNAUTHENTICATED");
    };
    const withCredential = (c: string | undefined) => {
      const url = new URL(`${service.url}/ofrep/v1/events`);
      if (c !== undefined) url.searchParams.set("c", c);
      url.searchParams.set("v", "x");
      return url.toString();
    };

    it("is required: 401 with the contract's body without one, or with garbage", async () => {
      await refusedWith401(withCredential(undefined));
      for (const c of ["", "reader", "reader.1.x", "..", "reader.99999999999.AAAA"])
        await refusedWith401(withCredential(c));
    });

    it("cannot be forged: another signature, another token id, or a later expiry is 401", async () => {
      const genuine = new URL(await streamUrlFor(client)).searchParams.get("c") as string;
      const [id, expires, signature] = genuine.split(".");
      const flipped = `${signature[0] === "A" ? "B" : "A"}${signature.slice(1)}`;
      await refusedWith401(withCredential(`${id}.${expires}.${flipped}`));
      // The client key's signature does not make it the admin's, nor extend it.
      await refusedWith401(withCredential(`admin.${expires}.${signature}`));
      await refusedWith401(withCredential(`${id}.${Number(expires) + CREDENTIAL_WINDOW_SECONDS}.${signature}`));
      assert.equal((await connect(withCredential(genuine))).status, 200);
    });

    it("expires: one issued more than two windows ago is 401", async () => {
      const old = issueStreamCredential(record("client"), Date.now() - 2 * CREDENTIAL_WINDOW_SECONDS * 1000 - 1000);
      await refusedWith401(withCredential(old));
      const fresh = issueStreamCredential(record("client"), Date.now());
      assert.equal((await connect(withCredential(fresh))).status, 200);
    });

    it("dies with its token: a revoked or rotated token's credential is 401", async () => {
      const revoked = issueStreamCredential(
        { id: "gone", sha256: hashToken("a-token-no-longer-configured"), scopes: ["read"] },
        Date.now(),
      );
      await refusedWith401(withCredential(revoked));
      const rotated = issueStreamCredential(
        { ...record("reader"), sha256: hashToken("the-reader-token-before-rotation") },
        Date.now(),
      );
      await refusedWith401(withCredential(rotated));
    });
  });

  describe("POST /ofrep/v1/evaluate/flags?flagConfigEtag=", () => {
    it("evaluates the configuration the event announced, even within the cache's check interval", async () => {
      const context = { targetingKey: "u" };
      const before = await client.bulk(context);
      const stream = await connect(before.body.eventStreams[0].url);
      await stream.next((block) => block.id !== undefined);
      // The route's cache probes for a change at most every 250 ms: make it probe just now (the
      // bulk that first shows a change probed in that request), then change the flag again.
      assert.equal((await api("PUT", "/flags/public-banner", { body: { value: 49 } })).status, 200);
      const shows = async (value: number) =>
        (await client.bulk(context)).body.flags.find((f: { key: string }) => f.key === "public-banner").value === value;
      while (!(await shows(49))) await new Promise((resolve) => setImmediate(resolve));
      await stream.next(isRefetch, 1000);
      assert.equal((await api("PUT", "/flags/public-banner", { body: { value: 50 } })).status, 200);
      const announced = refetchOf(await stream.next(isRefetch, 1000))?.etag as string;
      const refetched = await client.raw(
        `/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(announced)}`,
        { context },
        {
          "If-None-Match": before.headers.get("etag") as string,
        },
      );
      assert.equal(refetched.status, 200);
      assert.equal(refetched.body.flags.find((f: { key: string }) => f.key === "public-banner").value, 50);
      assert.equal(new URL(refetched.body.eventStreams[0].url).searchParams.get("v"), announced);
    });

    it("answers 304 when If-None-Match matches, flagConfigEtag or not; never on flagConfigEtag alone", async () => {
      const context = { targetingKey: "v" };
      const current = await client.bulk(context);
      const etag = current.headers.get("etag") as string;
      const config = new URL(current.body.eventStreams[0].url).searchParams.get("v") as string;
      const path = `/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(config)}`;
      assert.equal((await client.raw(path, { context }, { "If-None-Match": etag })).status, 304);
      assert.equal((await client.raw(path, { context })).status, 200);
      assert.equal((await client.raw(path, { context }, { "If-None-Match": '"stale"' })).status, 200);
    });
  });

  describe("limits", () => {
    it("refuses streams over the cap with 503, and admits one again once a stream closes", async () => {
      const small = await startTestService({ eventStreamLimits: { maxStreams: 3 } });
      try {
        const small_client = ofrepClient(small.service.url, CLIENT_TOKEN, validator);
        const url = (await small_client.bulk({})).body.eventStreams[0].url;
        const streams = await Promise.all([connect(url), connect(url), connect(url)]);
        for (const stream of streams) assert.equal(stream.status, 200);
        const refused = await connect(url);
        assert.equal(refused.status, 503);
        assert.equal((refused.body as { error: { code: string } }).error.code, "DEPENDENCY_UNAVAILABLE");
        streams[0].close();
        const deadline = Date.now() + 2000;
        let again = await connect(url);
        while (again.status !== 200 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          again = await connect(url);
        }
        assert.equal(again.status, 200);
      } finally {
        await small.service.stop();
      }
    });

    it("ends a stream after its longest duration; the client resumes with Last-Event-ID", async () => {
      const short = await startTestService({ eventStreamLimits: { maxDurationMs: 300 } });
      try {
        const shortClient = ofrepClient(short.service.url, CLIENT_TOKEN, validator);
        const url = (await shortClient.bulk({})).body.eventStreams[0].url;
        const stream = await connect(url);
        const id = (await stream.next((block) => block.id !== undefined)).id as string;
        await Promise.race([
          stream.ended,
          new Promise((_, reject) => setTimeout(() => reject(new Error("not ended")), 2000)),
        ]);
        const resumed = await connect(url, { "Last-Event-ID": id });
        assert.equal((await resumed.next((block) => block.id !== undefined)).data, undefined);
      } finally {
        await short.service.stop();
      }
    });

    it("ends every stream when the service stops", async () => {
      const doomed = await startTestService();
      const doomedClient = ofrepClient(doomed.service.url, CLIENT_TOKEN, validator);
      const url = (await doomedClient.bulk({})).body.eventStreams[0].url;
      const streams = await Promise.all([connect(url), connect(url)]);
      for (const stream of streams) await stream.next((block) => block.id !== undefined);
      const stopped = doomed.service.stop();
      await Promise.race([
        Promise.all(streams.map((stream) => stream.ended)),
        new Promise((_, reject) => setTimeout(() => reject(new Error("a stream outlived the service")), 3000)),
      ]);
      await stopped;
      for (const stream of streams) assert.ok(stream.isEnded());
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites.
  describe("afterwards", () => {
    it("validated every OFREP response against the OpenAPI document, eventStreams included", () => {
      assert.ok(validator.count() > 10, `${validator.count()} validated`);
    });
  });
});
