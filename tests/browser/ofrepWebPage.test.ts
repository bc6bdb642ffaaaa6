/**
 * The README's browser example (examples/browser/) in a real Chromium: a page served from another
 * origin, using only the unmodified `@openfeature/web-sdk` and `@openfeature/ofrep-web-provider`
 * with a client key and polling off. It evaluates client-side flags, hears of a change over the
 * service's OFREP event stream (SSE), never sees server-only flags, and is refused everything else.
 * Without a Chromium these tests are skipped, saying how to install one.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { buildBrowserExample } from "../../examples/browser/build";
import type { RunningService } from "../../local/service";
import { sharedBrowser, skipWithoutChromium } from "../support/browser";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { waitFor } from "../support/processes";
import { CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

/** The flags the page asks for, with their code defaults (`name:JSON`, as the page reads them). */
const CLIENT_FLAG = "welcome-banner";
const CLIENT_BOOLEAN = "new-checkout";
const SERVER_ONLY = "internal-pricing";
const PAGE_FLAGS = [`${CLIENT_FLAG}:"code default"`, `${CLIENT_BOOLEAN}:false`, `${SERVER_ONLY}:"code default"`];
/** The fields OFREP defines for one evaluation: all a client key may learn about a flag. */
const OFREP_FIELDS = ["key", "value", "variant", "reason", "metadata", "errorCode", "errorDetails"];
const BULK_PATH = "/ofrep/v1/evaluate/flags";

interface SeenRequest {
  method: string;
  url: URL;
  resourceType: string;
}

interface ConsoleError {
  text: string;
  url: string;
}

/** Serves `dir` on http://localhost:<port> under a strict CSP whose connect-src is `connectSrc()`. */
function serveStatic(dir: string, connectSrc: () => string): Promise<Server> {
  const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = createServer((request, response) => {
    const name = new URL(request.url ?? "/", "http://localhost").pathname.replace(/^\/$/, "/index.html").slice(1);
    if (!/^[a-z]+\.(html|js|css)$/.test(name)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      "Content-Type": `${types[path.extname(name)]}; charset=utf-8`,
      "Content-Security-Policy":
        `default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src ${connectSrc()}; ` +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    });
    response.end(readFileSync(path.join(dir, name)));
  });
  return new Promise((resolve) => server.listen(0, "localhost", () => resolve(server)));
}

describe("the OFREP web page example on another origin, in Chromium", function () {
  let pageDir: string;
  let pageServer: Server;
  let pageOrigin: string;
  let service: RunningService;
  let api: Client;
  let context: BrowserContext;
  let page: Page;
  const requests: SeenRequest[] = [];
  const bulkBodies: Promise<unknown>[] = [];
  /** The status of each event stream the page opened, once its headers came. */
  const streamAnswers: number[] = [];
  const consoleErrors: ConsoleError[] = [];
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  /** URLs the tests make the page call knowing they are refused: their console errors are expected. */
  const expectedRefusals = new Set<string>();
  let started = 0;

  const bulkRequests = () => requests.filter((r) => r.method === "POST" && r.url.pathname === BULK_PATH);
  const eventStreams = () => requests.filter((r) => r.resourceType === "eventsource");
  /** The page's row for a flag: `data-reason`, `data-error-code` and a value cell (JSON text). */
  const row = (flagName: string) => page.locator(`tr[data-flag="${flagName}"]`);
  const shownValue = async (flagName: string) => JSON.parse(await row(flagName).locator("td[data-value]").innerText());

  before(async function () {
    started = Date.now();
    skipWithoutChromium(this, "the OFREP web page example's browser tests");
    pageDir = mkdtempSync(path.join(os.tmpdir(), "flags-web-page-"));
    await buildBrowserExample(pageDir);
    let connectSrc = "'none'";
    pageServer = await serveStatic(pageDir, () => connectSrc);
    // localhost vs 127.0.0.1: another origin than the service's, as a team's own site would be.
    pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
    ({ service, api } = await startTestService({ corsOrigins: [pageOrigin] }));
    connectSrc = `${service.url} ${new URL(service.websocketUrl).origin}`;

    for (const flag of [
      { flagName: CLIENT_FLAG, value: "Hello", clientSide: true },
      { flagName: CLIENT_BOOLEAN, value: true, clientSide: true },
      { flagName: SERVER_ONLY, value: "secret plan", description: "server-side only (clientSide defaults to false)" },
    ]) {
      const created = await api("POST", "/flags", { body: flag });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }

    context = await (await sharedBrowser()).newContext();
    page = await context.newPage();
    page.on("request", (request) =>
      requests.push({ method: request.method(), url: new URL(request.url()), resourceType: request.resourceType() }),
    );
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (response.request().resourceType() === "eventsource") streamAnswers.push(response.status());
      if (response.request().method() === "POST" && url.pathname === BULK_PATH && response.status() === 200)
        bulkBodies.push(response.json().catch((error: Error) => error.message));
    });
    page.on("console", (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
      else if (message.type() === "error") consoleErrors.push({ text: message.text(), url: message.location().url });
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.exposeFunction("reportCspViolation", (text: string) => cspViolations.push(text));
    // Browser-side code as text: the tests' tsconfig has no DOM types.
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (event) =>
        window.reportCspViolation(event.violatedDirective + " blocked " + event.blockedURI));`,
    });

    const query = new URLSearchParams({ url: service.url, key: CLIENT_TOKEN, user: "visitor-1" });
    for (const flag of PAGE_FLAGS) query.append("flag", flag);
    await page.goto(`${pageOrigin}/?${query}`);
  });

  after(async () => {
    await context?.close();
    await service?.stop();
    await new Promise((resolve) => (pageServer === undefined ? resolve(undefined) : pageServer.close(resolve)));
    if (pageDir !== undefined) rmSync(pageDir, { recursive: true, force: true });
    if (started > 0 && page !== undefined) console.log(`      (web page tests took ${Date.now() - started} ms)`);
  });

  it("evaluates client-side flags with the client key, from another origin", async () => {
    await page
      .locator('#status[data-status="ready"]')
      .waitFor({ timeout: 5000 })
      .catch(async () => assert.fail(`the page is not ready: ${await page.locator("#status").innerText()}`));
    assert.equal(await shownValue(CLIENT_FLAG), "Hello");
    assert.equal(await shownValue(CLIENT_BOOLEAN), true);
    assert.equal(await row(CLIENT_FLAG).getAttribute("data-reason"), "STATIC");
    assert.equal(await row(CLIENT_FLAG).getAttribute("data-error-code"), "");
  });

  it("sees a server-only flag as missing: the code default, FLAG_NOT_FOUND, absent from the bulk answer", async () => {
    assert.equal(await shownValue(SERVER_ONLY), "code default");
    assert.equal(await row(SERVER_ONLY).getAttribute("data-error-code"), "FLAG_NOT_FOUND");

    const bodies = (await Promise.all(bulkBodies)) as { flags: Record<string, unknown>[] }[];
    assert.ok(bodies.length > 0, "the page fetched a bulk evaluation");
    for (const body of bodies) {
      const keys = body.flags.map((flag) => flag.key);
      assert.ok(keys.includes(CLIENT_FLAG) && keys.includes(CLIENT_BOOLEAN), `client-side flags in ${keys}`);
      assert.ok(!keys.includes(SERVER_ONLY), `no server-only flag in ${keys}`);
      for (const flag of body.flags) {
        const extra = Object.keys(flag).filter((field) => !OFREP_FIELDS.includes(field));
        assert.deepEqual(extra, [], `only OFREP's fields for ${flag.key}`);
      }
    }
    // Asked by name, from the page: the same answer as for a flag that was never created.
    const evaluateByName = (flagName: string) => {
      const url = `${service.url}/ofrep/v1/evaluate/flags/${flagName}`;
      expectedRefusals.add(url);
      return page.evaluate(
        async ({ url, key }) => {
          const response = await fetch(url, {
            method: "POST",
            headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
            body: JSON.stringify({ context: { targetingKey: "visitor-1" } }),
          });
          return { status: response.status, body: JSON.stringify(await response.json()) };
        },
        { url, key: CLIENT_TOKEN },
      );
    };
    const hidden = await evaluateByName(SERVER_ONLY);
    const missing = await evaluateByName("never-created");
    assert.equal(hidden.status, 404);
    assert.equal(JSON.parse(hidden.body).errorCode, "FLAG_NOT_FOUND");
    assert.equal(hidden.body, missing.body.replaceAll("never-created", SERVER_ONLY), "indistinguishable from missing");
  });

  it("hears of a change over the event stream, without polling and without the key in the stream's URL", async () => {
    // The provider opens the stream the bulk answer named once it has its first evaluation.
    assert.ok(await waitFor(() => streamAnswers.length > 0, 5000), "the page opened an event stream");
    assert.equal(streamAnswers[0], 200);
    const streams = eventStreams();
    assert.equal(streams.length, 1, "one EventSource");
    const streamUrl = streams[0].url;
    assert.equal(streamUrl.origin, service.url, "the stream is the service's");
    for (const form of [
      CLIENT_TOKEN,
      encodeURIComponent(CLIENT_TOKEN),
      Buffer.from(CLIENT_TOKEN).toString("base64url"),
    ])
      assert.ok(!streamUrl.href.includes(form), `the client key is not in the stream's URL ${streamUrl.href}`);

    // A change the key cannot see: no notification, so no re-fetch.
    const bulkBefore = bulkRequests().length;
    assert.equal((await api("PUT", `/flags/${SERVER_ONLY}`, { body: { value: "new secret plan" } })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(bulkRequests().length, bulkBefore, "a change to a server-only flag makes the page fetch nothing");

    const changedAt = Date.now();
    assert.equal((await api("PUT", `/flags/${CLIENT_FLAG}`, { body: { value: "Hello again" } })).status, 200);
    await row(CLIENT_FLAG).locator("td[data-value]", { hasText: '"Hello again"' }).waitFor({ timeout: 3000 });
    const latency = Date.now() - changedAt;
    console.log(`      (change shown in the page ${latency} ms after the PUT)`);
    assert.ok(Number(await page.locator("#changes").getAttribute("data-count")) >= 1, "ConfigurationChanged");

    // Quiet for a while: polling would show up as more bulk requests.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const bulk = bulkRequests();
    const unprompted = bulk.filter((request) => !request.url.searchParams.has("flagConfigEtag"));
    assert.equal(
      unprompted.length,
      1,
      "one bulk request of the page's own (the first), every other one an SSE event's",
    );
    assert.ok(bulk.length >= 2, "the change was fetched after an event");
    assert.equal(eventStreams().length, 1, "the stream stayed open");
  });

  it("is refused every other route with 403 FORBIDDEN that the page can read, and the WebSocket", async () => {
    const attempts = [
      { method: "GET", path: "/flags" },
      { method: "GET", path: `/flags/${CLIENT_FLAG}` },
      { method: "GET", path: `/flags/${CLIENT_FLAG}/history` },
      { method: "GET", path: "/evaluators" },
      { method: "PUT", path: `/flags/${CLIENT_FLAG}`, body: { value: "defaced" } },
      { method: "GET", path: "/settings" },
    ];
    for (const attempt of attempts) expectedRefusals.add(`${service.url}${attempt.path}`);
    const before = (await api("GET", `/flags/${CLIENT_FLAG}`)).body;
    const answers = await page.evaluate(
      ({ base, key, attempts }) =>
        Promise.all(
          attempts.map(async ({ method, path, body }) => {
            try {
              const response = await fetch(`${base}${path}`, {
                method,
                headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
                body: body === undefined ? undefined : JSON.stringify(body),
              });
              const answer = (await response.json()) as { error?: { code?: string } };
              return `${method} ${path}: ${response.status} ${answer.error?.code}`;
            } catch (error) {
              return `${method} ${path}: ${(error as Error).message}`;
            }
          }),
        ),
      { base: service.url, key: CLIENT_TOKEN, attempts },
    );
    assert.deepEqual(
      answers,
      attempts.map(({ method, path }) => `${method} ${path}: 403 FORBIDDEN`),
    );
    const after = (await api("GET", `/flags/${CLIENT_FLAG}`)).body;
    assert.deepEqual([after.value, after.version], [before.value, before.version], "the PUT changed nothing");

    const openWebSocket = (token: string) =>
      page.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const socket = new (globalThis as any).WebSocket(url);
            socket.onopen = () => {
              socket.close();
              resolve("open");
            };
            socket.onclose = () => resolve("refused");
            setTimeout(() => resolve("no answer"), 5000);
          }),
        `${service.websocketUrl}?token=${token}`,
      );
    // The same page with a read token connects: the refusal is the client key's, not the origin's.
    assert.equal(await openWebSocket(READ_TOKEN), "open");
    assert.equal(await openWebSocket(CLIENT_TOKEN), "refused");
  });

  it("showed no error in the page but the refusals it was made to meet", () => {
    assert.deepEqual(pageErrors, [], "no uncaught errors");
    assert.deepEqual(cspViolations, [], "no Content-Security-Policy violations");
    const unexpected = consoleErrors.filter(
      (error) =>
        !expectedRefusals.has(error.url) &&
        !(error.text.startsWith("WebSocket connection to") && error.text.includes(`token=${CLIENT_TOKEN}`)),
    );
    assert.deepEqual(unexpected, [], "no console errors");
  });
});
