/**
 * The web console's scheduled changes in Chromium against the local runtime: a flag's pending
 * schedules (when, what, by whom), scheduling a value or a variant, and cancelling.
 */
import * as assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type RunningService } from "../../local/service";
import { startConsoleService } from "../support/consoleService";
import { sharedBrowser, skipWithoutChromium } from "../support/browser";
import { type Client } from "../support/http";
import { inMs, schedulesOf, untilDone } from "../support/schedules";
import { ADMIN_TOKEN, READ_TOKEN } from "../support/tokens";

describe("web console in Chromium: scheduled changes", function () {
  this.timeout(60_000);
  let browser: Browser;
  let service: RunningService;
  let api: Client;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let suffix = 0;
  const unique = (name: string) => `${name}-${++suffix}`;

  before(async function () {
    skipWithoutChromium(this, "the web console's schedule tests");
    ({ service, api } = await startConsoleService("console-schedules"));
    browser = await sharedBrowser();
  });

  after(async () => {
    await service?.stop();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
  });

  afterEach(async () => {
    await context?.close();
    assert.deepEqual(errors, [], "no uncaught errors in the page");
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
  const section = () => page.getByRole("region", { name: "Scheduled changes" });
  /** A `datetime-local` value `ms` from now in the browser's time zone (the page's clock is this machine's). */
  const localInput = (ms: number) =>
    page.evaluate(`(() => {
      const at = new Date(Date.now() + ${ms});
      at.setSeconds(0, 0);
      return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    })()`) as Promise<string>;

  it("lists a flag's pending schedules with when, what and by whom, and cancels one", async () => {
    const flagName = unique("night-flip");
    await api("POST", "/flags", { body: { flagName, value: false } });
    const at = inMs(3 * 3_600_000);
    const created = await api("POST", `/flags/${flagName}/schedules`, { body: { at, change: { value: true } } });
    await signIn();
    await open(flagName);

    const pending = section().getByRole("table", { name: "Pending schedules" });
    await pending.waitFor();
    const text = await pending.innerText();
    assert.match(text, /value true/);
    assert.match(text, /admin/);
    assert.equal(await pending.locator(`time[datetime="${at}"]`).count(), 1);

    await section()
      .getByRole("button", { name: /^Cancel schedule at / })
      .click();
    await section().getByRole("status").filter({ hasText: "Schedule cancelled." }).waitFor();
    await section().getByText("No pending schedules.").waitFor();
    const [cancelled] = await schedulesOf(api, flagName);
    assert.deepEqual([cancelled.id, cancelled.status], [created.body.id, "cancelled"]);
  });

  it("schedules a new value at a date and time, listed as pending by the API", async () => {
    const flagName = unique("scheduled-value");
    await api("POST", "/flags", { body: { flagName, value: "blue" } });
    await signIn();
    await open(flagName);

    await section()
      .getByLabel("Scheduled time")
      .fill(await localInput(2 * 3_600_000));
    await section().getByLabel("New value (JSON)").fill('"green"');
    await section().getByRole("button", { name: "Schedule change" }).click();
    await section()
      .getByRole("status")
      .filter({ hasText: /^Scheduled for / })
      .waitFor();
    await section().getByRole("table", { name: "Pending schedules" }).getByText('value "green"').waitFor();

    const [pending] = await schedulesOf(api, flagName);
    assert.deepEqual([pending.status, pending.change, pending.createdBy], ["pending", { value: "green" }, "admin"]);
    const lead = Date.parse(pending.at) - Date.now();
    assert.ok(lead > 3_500_000 && lead < 7_300_000, `scheduled ${lead} ms ahead, about two hours`);
  });

  it("schedules a flag with variants by its default variant, and shows it applied", async () => {
    const flagName = unique("scheduled-variant");
    await api("POST", "/flags", {
      body: { flagName, variants: { on: true, off: false }, defaultVariant: "off", description: "kept" },
    });
    await signIn();
    await open(flagName);
    await section().getByLabel("New default variant").selectOption("on");
    await section()
      .getByLabel("Scheduled time")
      .fill(await localInput(3_600_000));
    await section().getByRole("button", { name: "Schedule change" }).click();
    await section()
      .getByRole("status")
      .filter({ hasText: /^Scheduled for / })
      .waitFor();
    const [pending] = await schedulesOf(api, flagName);
    // Due now, through the API (a minute's resolution in the form is too coarse to wait for).
    await api("DELETE", `/flags/${flagName}/schedules/${pending.id}`);
    const soon = await api("POST", `/flags/${flagName}/schedules`, { body: { at: inMs(300), change: pending.change } });
    await untilDone(api, flagName, soon.body.id);

    await section()
      .getByRole("list", { name: "Past schedules" })
      .getByText(/variant on — applied \(v2\)/)
      .waitFor();
    const flag = (await api("GET", `/flags/${flagName}`)).body;
    assert.deepEqual([flag.defaultVariant, flag.value, flag.description], ["on", true, "kept"]);
  });

  it("lets a read-only token see schedules but not create or cancel them", async () => {
    const flagName = unique("read-only");
    await api("POST", "/flags", { body: { flagName, value: 1 } });
    await api("POST", `/flags/${flagName}/schedules`, { body: { at: inMs(3_600_000), change: { value: 2 } } });
    await signIn(READ_TOKEN);
    await open(flagName);

    await section().getByRole("table", { name: "Pending schedules" }).waitFor();
    assert.equal(
      await section()
        .getByRole("button", { name: /^Cancel schedule at / })
        .isDisabled(),
      true,
    );
    assert.equal(await section().getByRole("button", { name: "Schedule change" }).isDisabled(), true);
  });

  it("fits a 390 px wide screen without scrolling sideways", async () => {
    const flagName = unique("narrow-screen-with-a-rather-long-flag-name");
    await api("POST", "/flags", { body: { flagName, value: { nested: "a long value to wrap in the cell" } } });
    await api("POST", `/flags/${flagName}/schedules`, {
      body: { at: inMs(3_600_000), change: { value: { nested: "another long value that must wrap somewhere" } } },
    });
    await page.setViewportSize({ width: 390, height: 800 });
    await signIn();
    await open(flagName);
    await section().getByRole("table", { name: "Pending schedules" }).waitFor();

    const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert.equal(overflow, 0);
  });
});
