/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core against the local
 * runtime. Without a Chromium these tests are skipped, saying how to install one.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type RunningService } from "../../local/service";
import { startConsoleService } from "../support/consoleService";
import { sharedBrowser, skipWithoutChromium } from "../support/browser";
import { type Client, client } from "../support/http";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN, TEST_TOKENS } from "../support/tokens";

const COLLEAGUE_TOKEN = "test-colleague-token-0123456789abcdef";

/** What the page reported that a user would call broken: CSP violations, uncaught errors. */
interface PageProblems {
  csp: string[];
  errors: string[];
}

describe("web console in Chromium", function () {
  let browser: Browser;
  let service: RunningService;
  let api: Client;
  let colleague: Client;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let deletionAllowed = true;
  let suffix = 0;
  let started = 0;
  const unique = (name: string) => `${name}-${++suffix}`;

  before(async function () {
    started = Date.now();
    skipWithoutChromium(this, "the web console's browser tests");
    ({ service, api } = await startConsoleService("console", {
      allowFlagDeletion: () => deletionAllowed,
      tokens: [...TEST_TOKENS, { id: "colleague", token: COLLEAGUE_TOKEN, scopes: ["read", "write"] }],
    }));
    colleague = client(service.url, COLLEAGUE_TOKEN);
    browser = await sharedBrowser();
  });

  after(async () => {
    await service?.stop();
    if (browser !== undefined) console.log(`      (browser tests took ${Date.now() - started} ms)`);
  });

  beforeEach(async () => {
    deletionAllowed = true;
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = { csp: [], errors: [] };
    page.on("console", (message) => {
      if (/Content.Security.Policy/i.test(message.text())) problems.csp.push(message.text());
    });
    page.on("pageerror", (error) => problems.errors.push(error.message));
    await page.exposeFunction("reportCspViolation", (text: string) => problems.csp.push(text));
    // Browser-side code as text: the tests' tsconfig has no DOM types.
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (event) =>
        window.reportCspViolation(event.violatedDirective + " blocked " + event.blockedURI));`,
    });
  });

  afterEach(async () => {
    await context?.close();
    assert.deepEqual(problems.csp, [], "no Content-Security-Policy violations");
    assert.deepEqual(problems.errors, [], "no uncaught errors in the page");
  });

  const signIn = async (token = ADMIN_TOKEN) => {
    await page.goto(`${service.url}/console/`);
    await page.getByLabel("API token").fill(token);
    await page.getByLabel("API token").press("Enter");
    await page.getByText(/Read and write|Read-only token/).waitFor();
    await page.locator('[data-connection="live"]').waitFor();
  };
  /** A row of the flag list: role=row whose first cell holds the name. */
  const row = (flagName: string) =>
    page.getByRole("row").filter({ has: page.getByRole("cell", { name: flagName, exact: true }) });
  const createFlag = async (body: Record<string, unknown>) => {
    const created = await api("POST", "/flags", { body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  };
  /** The open flag's panel: editor, evaluate, history. */
  const panel = () => page.getByRole("region", { name: /^Details of / });
  const open = async (flagName: string) => {
    await row(flagName).getByRole("button", { name: flagName }).click();
    await page.getByRole("heading", { name: flagName, level: 2 }).waitFor();
  };

  it("serves its files without a token: CSP on each, index revalidated, hashed assets immutable, /console redirected", async () => {
    const index = await fetch(`${service.url}/console/`);
    const html = await index.text();
    const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    assert.ok(script !== undefined, "index.html loads a content-hashed script");
    const asset = await fetch(`${service.url}/console/${script}`);
    const redirect = await fetch(`${service.url}/console`, { redirect: "manual" });

    assert.equal(index.status, 200);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control") ?? "", /immutable/);
    assert.equal(redirect.headers.get("location"), "/console/");
    for (const response of [index, asset, redirect]) {
      const csp = response.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    }
    assert.doesNotMatch(html, /<script>|<style|style=/, "no inline script or style");
    assert.equal((await fetch(`${service.url}/console/../flags`)).status, 401, "no path escapes the console");
    const missing = await fetch(`${service.url}/console/assets/app-NOPE.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "ROUTE_NOT_FOUND");
    assert.match(missing.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  });

  it("signs in with a token kept in sessionStorage only, creates a flag and toggles it by keyboard", async () => {
    const flagName = unique("new-checkout");
    await signIn();
    assert.equal(await page.evaluate("JSON.stringify(localStorage).includes('test-admin')"), false);
    assert.equal(page.url().includes(ADMIN_TOKEN), false);

    await page.getByLabel("New flag name").fill(flagName);
    await page.getByRole("form", { name: "New flag" }).getByLabel("Value (JSON)").fill("false");
    await page.getByRole("button", { name: "Create flag", exact: true }).click();
    const toggle = page.getByRole("switch", { name: flagName });
    await toggle.waitFor();
    assert.equal(await toggle.getAttribute("aria-checked"), "false");
    await toggle.focus();
    await page.keyboard.press("Space");
    await page.locator(`[role=switch][aria-label="${flagName}"][aria-checked="true"]`).waitFor();

    const stored = await api("GET", `/flags/${flagName}`);
    assert.equal(stored.body.value, true);
    assert.equal(stored.body.version, 2);
  });

  it("refuses an invalid new flag before sending it, with the service's own message", async () => {
    await signIn();
    await page.getByLabel("New flag name").fill("has spaces");
    await page.getByRole("button", { name: "Create flag", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "flagName must match" }).waitFor();
    assert.equal((await api("GET", "/flags/has%20spaces")).status, 400);
  });

  it("shows a change made over REST live, with a visible cue, without a reload", async () => {
    const flagName = unique("live");
    await createFlag({ flagName, value: "blue" });
    await signIn();
    await row(flagName).waitFor();
    await page.evaluate("window.notReloaded = true");

    const changedAt = Date.now();
    await colleague("PUT", `/flags/${flagName}`, { body: { value: "green" } });
    await page.locator(`tr.flash[data-flag="${flagName}"][data-version="2"]`).waitFor();
    const arrivedMs = Date.now() - changedAt;

    assert.match(await row(flagName).innerText(), /"green"/);
    assert.match(
      await page.getByRole("status").first().innerText(),
      new RegExp(`${flagName} updated \\(version 2 by colleague\\)`),
    );
    assert.equal(await page.evaluate("window.notReloaded"), true);
    console.log(`      (REST change visible in the browser after ${arrivedMs} ms)`);
  });

  it("searches and filters the list", async () => {
    const rich = unique("search-rich");
    const plain = unique("search-plain");
    await createFlag({ flagName: rich, variants: { a: "x", b: "y" }, defaultVariant: "a" });
    await createFlag({ flagName: plain, value: 1 });
    await signIn();
    await page.getByLabel("Search flags").fill("search-");
    await row(plain).waitFor();
    assert.equal(await row(rich).count(), 1);

    await page.getByLabel("Filter").selectOption("rich");
    await row(plain).waitFor({ state: "detached" });
    assert.equal(await row(rich).count(), 1);
  });

  it("makes a flag client-side with the editor's checkbox, explained, and saves it", async () => {
    const flagName = unique("for-pages");
    await createFlag({ flagName, value: "x" });
    await signIn();
    await open(flagName);
    const checkbox = panel().getByRole("checkbox", { name: "Client-side (visible to client keys)", exact: true });
    assert.equal(await checkbox.isChecked(), false);
    const hintId = await checkbox.getAttribute("aria-describedby");
    assert.match(
      await page.locator(`#${hintId}`).innerText(),
      /^Pages using a client key can evaluate this flag through OFREP; they never see its rules\.$/,
    );

    await checkbox.check();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 2" }).waitFor();
    const stored = (await api("GET", `/flags/${flagName}`)).body;
    assert.equal(stored.clientSide, true);
    assert.equal(stored.value, "x", "nothing else changed");
    await row(flagName).getByText("client-side", { exact: true }).waitFor();

    await checkbox.uncheck();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 3" }).waitFor();
    assert.equal((await api("GET", `/flags/${flagName}`)).body.clientSide, false);
  });

  it("filters the list to client-side flags", async () => {
    const page1 = unique("cs-filter-page");
    const server = unique("cs-filter-server");
    await createFlag({ flagName: page1, value: true, clientSide: true });
    await createFlag({ flagName: server, value: true });
    await signIn();
    await page.getByLabel("Search flags").fill("cs-filter-");
    await row(server).waitFor();
    assert.equal(await row(page1).count(), 1);

    await page.getByRole("checkbox", { name: "Client-side only", exact: true }).check();
    await row(server).waitFor({ state: "detached" });
    assert.equal(await row(page1).count(), 1);
    // A flag made client-side elsewhere joins the filtered list live.
    await colleague("PUT", `/flags/${server}`, { body: { value: true, clientSide: true } });
    await row(server).waitFor();

    await page.getByRole("checkbox", { name: "Client-side only", exact: true }).uncheck();
    assert.equal(await row(page1).count(), 1);
  });

  it("tells a client key it cannot sign in, and why", async () => {
    await page.goto(`${service.url}/console/`);
    await page.getByLabel("API token").fill(CLIENT_TOKEN);
    await page.getByLabel("API token").press("Enter");
    await page.getByRole("alert").filter({ hasText: "That is a client key (scope evaluate)" }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.length"), 0, "the refused token is not kept");
  });

  it("on a conflicting save shows who changed what and keeps what the user typed", async () => {
    const flagName = unique("conflict");
    await createFlag({ flagName, value: 10, description: "original" });
    await signIn();
    await open(flagName);
    await panel().getByLabel("Description", { exact: true }).fill("typed by me");

    await colleague("PUT", `/flags/${flagName}`, { body: { value: 20, description: "original" } });
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const conflict = page.getByRole("alert").filter({ hasText: "colleague changed this flag" });
    await conflict.waitFor();

    assert.match(await conflict.innerText(), /value\s+10\s+20/, "the diff shows their change");
    assert.equal(await panel().getByLabel("Description", { exact: true }).inputValue(), "typed by me");
    assert.equal((await api("GET", `/flags/${flagName}`)).body.description, "original", "nothing was overwritten");

    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 3" }).waitFor();
    assert.equal((await api("GET", `/flags/${flagName}`)).body.description, "typed by me");
  });

  it("rolls a flag out to 10 % by editing its targeting, validated before saving", async () => {
    const flagName = unique("rollout");
    await createFlag({ flagName, value: false });
    await signIn();
    await open(flagName);
    await panel().getByLabel("Variants (JSON)", { exact: true }).fill('{"on": true, "off": false}');
    await panel().getByLabel("Default variant", { exact: true }).fill("of");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "defaultVariant: 'of' is not one of the variants" }).waitFor();
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1, "an invalid edit is never sent");

    await panel().getByLabel("Default variant", { exact: true }).fill("off");
    await panel()
      .getByLabel("Targeting (JsonLogic)", { exact: true })
      .fill('{"fractional": [["on", 10], ["off", 90]]}');
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 2" }).waitFor();

    const stored = (await api("GET", `/flags/${flagName}`)).body;
    assert.deepEqual(stored.targeting, {
      fractional: [
        ["on", 10],
        ["off", 90],
      ],
    });
    assert.equal(stored.defaultVariant, "off");
  });

  it("evaluates a context as OFREP answers it: value, variant and reason", async () => {
    const flagName = unique("evaluate");
    await createFlag({
      flagName,
      variants: { eu: "EU", world: "WORLD" },
      defaultVariant: "world",
      targeting: { if: [{ "==": [{ var: "country" }, "DE"] }, "eu", null] },
    });
    await signIn();
    await open(flagName);
    await panel()
      .getByLabel("Evaluation context (JSON)", { exact: true })
      .fill('{"targetingKey": "u1", "country": "DE"}');
    await page.getByRole("button", { name: "Evaluate", exact: true }).click();

    const result = page.getByLabel("Evaluation result");
    await result.waitFor();
    assert.equal(await result.locator("[data-field=value]").innerText(), '"EU"');
    assert.equal(await result.locator("[data-field=variant]").innerText(), "eu");
    assert.equal(await result.locator("[data-field=reason]").innerText(), "TARGETING_MATCH");
  });

  it("deletes a flag after confirmation", async () => {
    const flagName = unique("delete-me");
    await createFlag({ flagName, value: true });
    await signIn();
    await open(flagName);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await row(flagName).waitFor({ state: "detached" });
    assert.equal((await api("GET", `/flags/${flagName}`)).status, 404);
  });

  it("compares two versions and reverts to the older one in one click", async () => {
    const flagName = unique("revert");
    await createFlag({ flagName, value: "first", description: "as created" });
    await colleague("PUT", `/flags/${flagName}`, {
      body: { value: "second", description: "changed" },
      headers: { "If-Match": "1" },
    });
    await signIn();
    await open(flagName);
    const history = panel().getByRole("region", { name: "History" });
    await history.getByLabel("Compare version").selectOption("1");
    await history.getByLabel("with version").selectOption("2");

    const diff = history.getByRole("table");
    await diff.getByText('"second"').waitFor();
    assert.match(await diff.innerText(), /value\s+"first"\s+"second"/);
    assert.match(await diff.innerText(), /description\s+"as created"\s+"changed"/);
    if (process.env.UPDATE_SCREENSHOT === "1") {
      await page.screenshot({ path: path.join(__dirname, "..", "..", "docs", "console.png"), fullPage: true });
    }
    await history.getByRole("button", { name: "Revert", exact: true }).click();
    await page.locator(`tr[data-flag="${flagName}"][data-version="3"]`).waitFor();

    const stored = (await api("GET", `/flags/${flagName}`)).body;
    assert.equal(stored.value, "first");
    assert.equal(stored.description, "as created");
    const versions = (await api("GET", `/flags/${flagName}/history`)).body.versions;
    assert.deepEqual(
      versions.map((v: { version: number; actor: string }) => [v.version, v.actor]),
      [
        [3, "admin"],
        [2, "colleague"],
        [1, "admin"],
      ],
      "the revert is a new, audited version",
    );
  });

  it("disables Delete, saying why, when deletion is switched off", async () => {
    deletionAllowed = false;
    const flagName = unique("keep-me");
    await createFlag({ flagName, value: true });
    await signIn();
    await open(flagName);
    const remove = page.getByRole("button", { name: "Delete", exact: true });
    assert.equal(await remove.isDisabled(), true);
    assert.match(await page.locator("#delete-reason").innerText(), /Deletion is switched off/);
  });

  it("lists shared evaluators with the flags that use each, and saves an edited one", async () => {
    const evaluator = unique("beta-testers");
    const flagName = unique("uses-evaluator");
    const put = await api("PUT", `/evaluators/${evaluator}`, {
      body: { expression: { in: [{ var: "email" }, ["a@example.com"]] } },
    });
    assert.equal(put.status, 201);
    await createFlag({
      flagName,
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: { if: [{ $ref: evaluator }, "on", "off"] },
    });
    await signIn();
    await page.getByRole("button", { name: "Evaluators", exact: true }).click();
    const entry = page.getByRole("row").filter({ has: page.getByRole("cell", { name: evaluator, exact: true }) });
    await entry.waitFor();
    assert.match(await entry.innerText(), new RegExp(flagName));

    await entry.getByRole("button", { name: evaluator }).click();
    await page.getByLabel("Expression (JsonLogic)").fill('{"in": [{"var": "email"}, ["b@example.com"]]}');
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await entry.getByText("v2 by admin").waitFor();
    assert.deepEqual((await api("GET", `/evaluators/${evaluator}`)).body.expression, {
      in: [{ var: "email" }, ["b@example.com"]],
    });
  });

  it("shows an evaluator's history: who changed it to what, any two versions compared", async () => {
    const evaluator = unique("pilot-users");
    await api("PUT", `/evaluators/${evaluator}`, {
      body: { expression: { in: [{ var: "email" }, ["a@example.com"]] } },
    });
    await colleague("PUT", `/evaluators/${evaluator}`, {
      body: { expression: { in: [{ var: "email" }, ["a@example.com", "b@example.com"]] } },
      headers: { "If-Match": "1" },
    });
    await signIn();
    await page.getByRole("button", { name: "Evaluators", exact: true }).click();
    await page.getByRole("button", { name: evaluator, exact: true }).click();

    const history = page.getByRole("region", { name: `History of ${evaluator}` });
    await history.getByText("v2: changed by colleague").waitFor();
    await history.getByText("v1: created by admin").waitFor();
    const diff = history.getByRole("table");
    await diff.getByText(/b@example\.com/).waitFor();
    assert.match(await diff.innerText(), /expression\.in\.1\.1\s+—\s+"b@example\.com"/);
  });

  it("on a conflicting evaluator save shows who changed it and keeps what the user typed; Save again puts it over theirs", async () => {
    const evaluator = unique("contested");
    await api("PUT", `/evaluators/${evaluator}`, { body: { expression: { "==": [{ var: "plan" }, "free"] } } });
    await signIn();
    await page.getByRole("button", { name: "Evaluators", exact: true }).click();
    await page.getByRole("button", { name: evaluator, exact: true }).click();
    // A colleague changes it after it was opened here.
    await colleague("PUT", `/evaluators/${evaluator}`, {
      body: { expression: { "==": [{ var: "plan" }, "team"] } },
      headers: { "If-Match": "1" },
    });

    const mine = '{"==": [{"var": "plan"}, "enterprise"]}';
    await page.getByLabel("Expression (JsonLogic)").fill(mine);
    await page.getByRole("button", { name: "Save", exact: true }).click();

    const conflict = page.locator(".conflict");
    await conflict.waitFor();
    assert.match(await conflict.innerText(), /colleague changed this evaluator .* \(now version 2\)/);
    assert.match(await conflict.innerText(), /"team"/);
    assert.equal(await page.getByLabel("Expression (JsonLogic)").inputValue(), mine);
    assert.equal((await api("GET", `/evaluators/${evaluator}`)).body.version, 2);

    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved as version 3.").waitFor();
    const stored = (await api("GET", `/evaluators/${evaluator}`)).body;
    assert.deepEqual([stored.version, stored.updatedBy, stored.expression], [3, "admin", JSON.parse(mine)]);
  });

  it("lists changes of the evaluators a flag uses in the flag's history, as they happen", async () => {
    const evaluator = unique("eu-countries");
    const flagName = unique("eu-checkout");
    await api("PUT", `/evaluators/${evaluator}`, { body: { expression: { in: [{ var: "country" }, ["de"]] } } });
    await createFlag({
      flagName,
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: { if: [{ $ref: evaluator }, "on", "off"] },
    });
    await signIn();
    await open(flagName);
    const history = panel().getByRole("region", { name: "History" });
    await history.getByText("v1: created by admin").waitFor();

    await colleague("PUT", `/evaluators/${evaluator}`, {
      body: { expression: { in: [{ var: "country" }, ["de", "fr"]] } },
    });

    const change = history.locator(`li.evaluator-change[data-evaluator="${evaluator}"]`).first();
    await change.waitFor();
    assert.match(await change.innerText(), new RegExp(`evaluator ${evaluator} v2: changed by colleague`));
    // Newest first: the evaluator's change above the flag's creation.
    const lines = await history.locator("ol.versions li").allInnerTexts();
    assert.match(lines[0], /v2: changed by colleague/);
    assert.match(lines.at(-1) ?? "", /^v1: created by admin/);
  });

  it("gives a read-only token every view but disables each write control, saying why", async () => {
    const flagName = unique("read-only");
    await createFlag({ flagName, value: true });
    await signIn(READ_TOKEN);
    await page.getByText("Read-only token").first().waitFor();
    await open(flagName);

    for (const control of [
      page.getByRole("switch", { name: flagName }),
      page.getByRole("button", { name: "Create flag", exact: true }),
      page.getByRole("button", { name: "Save", exact: true }),
      page.getByRole("button", { name: "Delete", exact: true }),
    ]) {
      assert.equal(await control.isDisabled(), true);
    }
    assert.match(await page.locator("#read-only-reason").innerText(), /can only read/);
    await page.getByRole("button", { name: "Evaluate", exact: true }).click();
    await page.getByLabel("Evaluation result").waitFor();
  });

  it("is readable on a phone: nothing wider than the screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const flagName = unique("a-rather-long-flag-name-for-a-small-screen");
    await createFlag({ flagName, value: { nested: { deeply: ["x", "y", "z"] } } });
    await signIn();
    await open(flagName);
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  });
});
