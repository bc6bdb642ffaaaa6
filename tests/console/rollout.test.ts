/**
 * The web console's progressive rollouts in Chromium against the local runtime: a flag's running
 * rollout (percentage, step, next step, guard alarms) with Abort, starting one from the form, and
 * its steps landing while a person watches.
 */
import * as assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type RunningService } from "../../local/service";
import { startConsoleService } from "../support/consoleService";
import { sharedBrowser, skipWithoutChromium } from "../support/browser";
import { type Client } from "../support/http";
import { ADMIN_TOKEN, READ_TOKEN } from "../support/tokens";

/** A flag with two variants, `old` served to everyone but `beta` users. */
const checkout = (flagName: string) => ({
  flagName,
  variants: { old: "old-checkout", new: "new-checkout" },
  defaultVariant: "old",
  targeting: { if: [{ "==": [{ var: "plan" }, "beta"] }, "new", null] },
});

describe("web console in Chromium: rollouts", function () {
  this.timeout(60_000);
  let browser: Browser;
  let service: RunningService;
  let api: Client;
  let context: BrowserContext;
  let page: Page;
  let problems: { csp: string[]; errors: string[] };
  let suffix = 0;
  const unique = (name: string) => `${name}-${++suffix}`;

  before(async function () {
    skipWithoutChromium(this, "the web console's rollout tests");
    ({ service, api } = await startConsoleService("console-rollout"));
    browser = await sharedBrowser();
  });

  after(async () => {
    await service?.stop();
  });

  beforeEach(async () => {
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
    // The progress bar's width is set through the CSSOM: the CSP (no unsafe-inline) must not object.
    assert.deepEqual(problems.csp, [], "no Content-Security-Policy violations");
    assert.deepEqual(problems.errors, [], "no uncaught errors in the page");
  });

  const signIn = async (token = ADMIN_TOKEN) => {
    await page.goto(`${service.url}/console/`);
    await page.getByLabel("API token").fill(token);
    await page.getByLabel("API token").press("Enter");
    await page.locator('[data-connection="live"]').waitFor();
  };
  const row = (flagName: string) =>
    page.getByRole("row").filter({ has: page.getByRole("cell", { name: flagName, exact: true }) });
  const open = async (flagName: string) => {
    await row(flagName).getByRole("button", { name: flagName }).click();
    await page.getByRole("heading", { name: flagName, level: 2 }).waitFor();
  };
  const section = () => page.getByRole("region", { name: "Rollout" });
  const bar = (variant: string) => section().getByRole("progressbar", { name: `Rollout of ${variant}` });
  /** Waits until the bar shows `percent` (steps land on the service's clock, not the test's). */
  const barAt = (variant: string, percent: number, timeout = 15_000) =>
    bar(variant)
      .and(page.locator(`[aria-valuenow="${percent}"]`))
      .waitFor({ timeout });
  const fact = (field: string) => section().locator(`dd[data-field="${field}"]`);
  const newFlag = async () => {
    const flagName = unique("checkout");
    const created = await api("POST", "/flags", { body: checkout(flagName) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return flagName;
  };
  const startRollout = async (flagName: string, body: unknown) => {
    const started = await api("PUT", `/flags/${flagName}/rollout`, { body });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    return started.body;
  };

  it("starts a rollout from the form and shows its percentage, next step, guard alarms and who started it", async () => {
    const flagName = await newFlag();
    await signIn();
    await open(flagName);

    await section().getByLabel("Variant to roll out").selectOption("new");
    await section().getByLabel("Percentages, step by step").fill("5, 50, 100");
    await section().getByLabel("Hold each step").fill("2");
    await section().getByLabel("Hold unit").selectOption("hours");
    await section().getByLabel("Guard alarms (optional)").fill("checkout-5xx, checkout-latency");
    await section().getByRole("button", { name: "Start rollout" }).click();
    await section().getByRole("status").filter({ hasText: "Rollout started: new at 5 % (version 2)." }).waitFor();

    const rollout = (await api("GET", `/flags/${flagName}/rollout`)).body;
    assert.deepEqual(
      [rollout.status, rollout.variant, rollout.steps, rollout.guard, rollout.startedBy],
      [
        "running",
        "new",
        [{ percent: 5, holdSeconds: 7_200 }, { percent: 50, holdSeconds: 7_200 }, { percent: 100 }],
        { alarms: ["checkout-5xx", "checkout-latency"] },
        "admin",
      ],
    );
    await barAt("new", 5);
    assert.match(await fact("step").innerText(), /^1 of 3: 5 % \(2 h\) → 50 % \(2 h\) → 100 %$/);
    const next = await fact("next").innerText();
    assert.match(next, /^50 % at .+ \(in (2 hours|120 minutes)\)$/);
    assert.equal(await fact("next").locator(`time[datetime="${rollout.nextStepAt}"]`).count(), 1);
    assert.equal(await fact("guard").innerText(), "checkout-5xx, checkout-latency");
    assert.match(await fact("started").innerText(), /^by admin at .+, from version 1$/);
    // The flag's editor says why Save is off, rather than let the API refuse it.
    const editor = page.getByRole("form", { name: "Edit flag" });
    assert.equal(await editor.getByRole("button", { name: "Save" }).isDisabled(), true);
    assert.match(
      await editor
        .locator(`#${await editor.getByRole("button", { name: "Save" }).getAttribute("aria-describedby")}`)
        .innerText(),
      /^A rollout is running: the flag takes no other change until it completes or is aborted/,
    );
    assert.equal(
      await page.getByRole("region", { name: "History" }).getByRole("button", { name: "Revert" }).isDisabled(),
      true,
    );
    assert.equal(await section().getByRole("button", { name: "Start rollout" }).count(), 0);
  });

  it("shows the API's refusal of a rollout whose percents do not rise, and starts none", async () => {
    const flagName = await newFlag();
    await signIn();
    await open(flagName);

    await section().getByLabel("Percentages, step by step").fill("50, 10");
    await section().getByRole("button", { name: "Start rollout" }).click();

    await section()
      .getByRole("alert")
      .filter({ hasText: "percents must rise from step to step, but 10 follows 50" })
      .waitFor();
    assert.equal((await api("GET", `/flags/${flagName}/rollout`)).status, 404);
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1);
  });

  it("shows each step land while it runs, then the rollout completed", async () => {
    const flagName = await newFlag();
    await signIn();
    await open(flagName);
    await section().getByText("No rollout yet.").waitFor();

    await section().getByLabel("Percentages, step by step").fill("10, 30, 100");
    await section().getByLabel("Hold each step").fill("2");
    await section().getByLabel("Hold unit").selectOption("seconds");
    await section().getByRole("button", { name: "Start rollout" }).click();

    await barAt("new", 10);
    assert.equal(await fact("guard").innerText(), "no guard alarms");
    await barAt("new", 30);
    assert.match(await fact("step").innerText(), /^2 of 3: /);
    await section()
      .locator('.rollout-outcome[data-status="completed"]')
      .filter({ hasText: "Last rollout of new: completed at 100 %, " })
      .waitFor({ timeout: 15_000 });
    assert.match(await section().locator(".rollout-outcome").innerText(), / \(v4\)\.$/);
    await page.getByText("Version 4,").waitFor();
    const save = page.getByRole("form", { name: "Edit flag" }).getByRole("button", { name: "Save" });
    assert.equal(await save.isDisabled(), false, "Save is back once the rollout completed");
  });

  it("reads a running rollout every few seconds, so steps land on screen while the live connection is down", async () => {
    const flagName = await newFlag();
    // No live updates: each WebSocket the page opens is closed at once, so only polling shows the steps.
    await context.routeWebSocket(/\/ws/, (socket) => void socket.close());
    await page.goto(`${service.url}/console/`);
    await page.getByLabel("API token").fill(ADMIN_TOKEN);
    await page.getByLabel("API token").press("Enter");
    await page.locator('[data-connection="offline"]').waitFor();
    await startRollout(flagName, {
      variant: "new",
      steps: [{ percent: 10, holdSeconds: 4 }, { percent: 40, holdSeconds: 3_600 }, { percent: 100 }],
    });
    await open(flagName);

    await barAt("new", 10);
    await barAt("new", 40);
    // The panel brings the flag up to the version the step wrote.
    await page.getByText("Version 3,").waitFor();
    assert.equal(await page.locator('[data-connection="live"]').count(), 0);
  });

  it("aborts from the console: the flag is back to its definition as a new version, the rollout aborted", async () => {
    const flagName = await newFlag();
    const base = (await api("GET", `/flags/${flagName}`)).body;
    await startRollout(flagName, {
      variant: "new",
      steps: [{ percent: 10, holdSeconds: 3_600 }, { percent: 100 }],
      guard: { alarms: ["checkout-5xx"] },
    });
    await signIn();
    await open(flagName);
    await barAt("new", 10);
    await page.getByText("Version 2,").waitFor();

    let question = "";
    page.once("dialog", (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await section().getByRole("button", { name: "Abort rollout" }).click();

    await section()
      .getByRole("status")
      .filter({ hasText: "Rollout aborted: the flag is back to version 1's definition, as version 3." })
      .waitFor();
    assert.match(question, /^Abort the rollout of new on checkout-\d+\? .*version 1/);
    await section()
      .locator('.rollout-outcome[data-status="aborted"]')
      .filter({ hasText: /^Last rollout of new: aborted by admin at 10 %, .+ \(v3\)\.$/ })
      .waitFor();
    await page.getByText("Version 3,").waitFor();
    assert.equal(await bar("new").count(), 0);
    const flag = (await api("GET", `/flags/${flagName}`)).body;
    assert.deepEqual(
      [flag.version, flag.targeting, flag.defaultVariant],
      [3, base.targeting, base.defaultVariant],
      "the flag's definition from before the rollout",
    );
    assert.deepEqual(
      [
        (await api("GET", `/flags/${flagName}/rollout`)).body.status,
        (await api("GET", `/flags/${flagName}/rollout`)).body.abortedBy,
      ],
      ["aborted", "admin"],
    );
    // The flag takes changes again, and a new rollout may start from the form.
    assert.equal(
      await page.getByRole("form", { name: "Edit flag" }).getByRole("button", { name: "Save" }).isDisabled(),
      false,
    );
  });

  it("lets a read-only token see a running rollout but neither abort it nor start one", async () => {
    const flagName = await newFlag();
    await startRollout(flagName, { variant: "new", steps: [{ percent: 20, holdSeconds: 3_600 }, { percent: 100 }] });
    await signIn(READ_TOKEN);
    await open(flagName);

    await barAt("new", 20);
    assert.equal(await fact("guard").innerText(), "no guard alarms");
    assert.equal(await section().getByRole("button", { name: "Abort rollout" }).count(), 0);
    assert.equal(await section().getByRole("button", { name: "Start rollout" }).count(), 0);
    await section()
      .getByText(/^Your token can only read/)
      .waitFor();
    assert.equal((await api("GET", `/flags/${flagName}/rollout`)).body.status, "running");
  });

  it("fits a 390 px wide screen without scrolling sideways", async () => {
    const flagName = await newFlag();
    await startRollout(flagName, {
      variant: "new",
      steps: [{ percent: 1, holdSeconds: 3_600 }, { percent: 10, holdSeconds: 3_600 }, { percent: 100 }],
      guard: { alarms: ["a-rather-long-cloudwatch-alarm-name-for-the-checkout-service-5xx-rate"] },
    });
    await page.setViewportSize({ width: 390, height: 800 });
    await signIn();
    await open(flagName);
    await barAt("new", 1);

    const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert.equal(overflow, 0);
  });
});
