/**
 * The web console's targeting form and rollout slider in Chromium against the local runtime: a
 * product manager targets countries and rolls out a percentage without typing JSON, checked
 * through OFREP; stored rules round-trip through the form unchanged; what the form cannot show
 * stays JSON; an invalid rule is refused before any request.
 */
import * as assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type RunningService } from "../../local/service";
import { startConsoleService } from "../support/consoleService";
import { sharedBrowser, skipWithoutChromium } from "../support/browser";
import { type Client } from "../support/http";
import { ADMIN_TOKEN } from "../support/tokens";

describe("web console in Chromium: targeting rules and the rollout slider", function () {
  this.timeout(90_000);
  let browser: Browser;
  let service: RunningService;
  let api: Client;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let suffix = 0;
  const unique = (name: string) => `${name}-${++suffix}`;

  before(async function () {
    skipWithoutChromium(this, "the web console's rules tests");
    ({ service, api } = await startConsoleService("console-rules"));
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

  const signIn = async () => {
    await page.goto(`${service.url}/console/`);
    await page.getByLabel("API token").fill(ADMIN_TOKEN);
    await page.getByLabel("API token").press("Enter");
    await page.locator('[data-connection="live"]').waitFor();
  };
  const row = (flagName: string) =>
    page.getByRole("row").filter({ has: page.getByRole("cell", { name: flagName, exact: true }) });
  const open = async (flagName: string) => {
    await row(flagName).getByRole("button", { name: flagName }).click();
    await page.getByRole("heading", { name: flagName, level: 2 }).waitFor();
  };
  const targeting = () => page.getByRole("region", { name: "Targeting" });
  const save = () => page.getByRole("button", { name: "Save", exact: true }).click();
  const saved = (version: number) =>
    page
      .getByRole("status")
      .filter({ hasText: `Saved as version ${version}` })
      .waitFor();
  const variantFor = async (flagName: string, evaluation: Record<string, unknown>) => {
    const answer = await api("POST", `/ofrep/v1/evaluate/flags/${flagName}`, { body: { context: evaluation } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.variant as string;
  };
  const onOff = (flagName: string, extra: Record<string, unknown> = {}) =>
    api("POST", "/flags", { body: { flagName, variants: { on: true, off: false }, defaultVariant: "off", ...extra } });

  it("targets German and French users, then 25 % of everyone with the slider, without typing JSON", async () => {
    const flagName = unique("new-checkout");
    assert.equal((await onOff(flagName)).status, 201);
    await signIn();
    await open(flagName);

    await targeting().getByLabel("Who gets what").selectOption("rules");
    const rule = targeting().getByRole("group", { name: "Rule 1" });
    await rule.getByLabel("Attribute").fill("country");
    await rule.getByLabel("Operator").selectOption("in");
    await rule.getByLabel("Values (comma-separated)").fill("de, fr");
    await rule.getByLabel("Serve variant").selectOption("on");
    await targeting().getByLabel("Otherwise serve").selectOption("off");
    await save();
    await saved(2);

    assert.deepEqual((await api("GET", `/flags/${flagName}`)).body.targeting, {
      if: [{ in: [{ var: "country" }, ["de", "fr"]] }, "on", "off"],
    });
    assert.equal(await variantFor(flagName, { targetingKey: "u1", country: "de" }), "on");
    assert.equal(await variantFor(flagName, { targetingKey: "u1", country: "fr" }), "on");
    assert.equal(await variantFor(flagName, { targetingKey: "u1", country: "us" }), "off");

    // Now a percentage of everyone: the slider, by keyboard only.
    await targeting().getByLabel("Who gets what").selectOption("fractional");
    const slider = page.getByRole("slider", { name: "Rollout percentage" });
    assert.equal(await slider.inputValue(), "0", "a new split starts with nobody on the new variant");
    await slider.focus();
    await slider.press("End");
    assert.equal(await slider.inputValue(), "100");
    await slider.press("Home");
    await slider.press("PageUp");
    await slider.press("PageUp");
    assert.equal(await slider.inputValue(), "20");
    for (let i = 0; i < 6; i++) await slider.press("ArrowRight");
    await slider.press("ArrowLeft");
    assert.equal(await slider.inputValue(), "25");
    assert.equal(await slider.getAttribute("aria-valuenow"), "25");
    // The country rule is replaced, so the slider does not promise that de/fr users stay in.
    await targeting()
      .getByText("25 % get `on`, 75 % `off`; this replaces the current targeting, so who gets `on` is decided afresh.")
      .waitFor();
    await save();
    await saved(3);

    assert.deepEqual((await api("GET", `/flags/${flagName}`)).body.targeting, {
      fractional: [
        ["on", 25],
        ["off", 75],
      ],
    });
    let on = 0;
    const users = 400;
    for (let i = 0; i < users; i += 50) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, n) => variantFor(flagName, { targetingKey: `user-${i + n}` })),
      );
      on += answers.filter((variant) => variant === "on").length;
    }
    const percent = (on * 100) / users;
    assert.ok(Math.abs(percent - 25) <= 5, `${percent} % of ${users} users get on, about 25 %`);
  });

  it("reads a split's percentage into the slider and keeps its bucketBy when Save writes a new one", async () => {
    const flagName = unique("split");
    const by = { cat: [{ var: "$flagd.flagKey" }, { var: "email" }] };
    await onOff(flagName, { targeting: { fractional: [by, ["on", 40], ["off", 60]] } });
    await signIn();
    await open(flagName);
    const slider = page.getByRole("slider", { name: "Rollout percentage" });
    assert.equal(await slider.inputValue(), "40");
    await slider.focus();
    await slider.press("PageDown");
    await targeting().getByText("30 % get `on`, 70 % `off`; 10 % of users now getting `on` move to `off`.").waitFor();
    await save();
    await saved(2);
    assert.deepEqual((await api("GET", `/flags/${flagName}`)).body.targeting, {
      fractional: [by, ["on", 30], ["off", 70]],
    });
  });

  it("round-trips a stored rule with starts_with, ends_with, sem_ver, and/or and $ref exactly", async () => {
    const evaluator = unique("staff");
    assert.equal(
      (
        await api("PUT", `/evaluators/${evaluator}`, {
          body: { expression: { ends_with: [{ var: "email" }, "@acme.com"] } },
        })
      ).status,
      201,
    );
    const stored = {
      if: [
        { and: [{ starts_with: [{ var: "email" }, "qa+"] }, { ends_with: [{ var: "email" }, "@acme.com"] }] },
        "on",
        { or: [{ sem_ver: [{ var: "appVersion" }, ">=", "2.1.0"] }, { $ref: evaluator }] },
        "on",
        { "==": [{ var: "plan" }, "enterprise"] },
        "on",
        "off",
      ],
    };
    const flagName = unique("round-trip");
    assert.equal((await onOff(flagName, { targeting: stored })).status, 201);
    await signIn();
    await open(flagName);

    // Shown in the form, not as JSON.
    const second = targeting().getByRole("group", { name: "Rule 2" });
    await second.getByLabel("Match", { exact: true }).waitFor();
    assert.equal(await second.getByLabel("Match", { exact: true }).inputValue(), "or");
    assert.equal(await second.getByRole("group", { name: "Condition 1" }).getByLabel("Version").inputValue(), "2.1.0");
    assert.equal(
      await second.getByRole("group", { name: "Condition 2" }).getByLabel("Shared evaluator").inputValue(),
      evaluator,
    );
    // The JSON the form stands for is beside it, and is the stored targeting.
    assert.deepEqual(JSON.parse(await targeting().getByLabel("Targeting (JsonLogic)").inputValue()), stored);

    await save();
    await saved(2);
    assert.deepEqual((await api("GET", `/flags/${flagName}`)).body.targeting, stored);

    // The JSON tab shows the same rule.
    await targeting().getByRole("button", { name: "JSON" }).click();
    assert.deepEqual(JSON.parse(await targeting().getByLabel("Targeting (JsonLogic)").inputValue()), stored);
  });

  it("shows a targeting the form cannot express as JSON, with a note saying so", async () => {
    const flagName = unique("custom");
    const custom = { if: [{ "<": [{ var: "age" }, 18] }, "off", "on"] };
    await onOff(flagName, { targeting: custom });
    await signIn();
    await open(flagName);
    await targeting().getByRole("button", { name: "Form" }).click();
    await targeting()
      .getByRole("note")
      .filter({ hasText: /The form cannot show this targeting .*'<'.*; edit it as JSON\./ })
      .waitFor();
    assert.deepEqual(JSON.parse(await targeting().getByLabel("Targeting (JsonLogic)").inputValue()), custom);
    await save();
    await saved(2);
    assert.deepEqual((await api("GET", `/flags/${flagName}`)).body.targeting, custom);
  });

  it("refuses an invalid rule in the browser before any request", async () => {
    const flagName = unique("invalid");
    await onOff(flagName);
    await signIn();
    await open(flagName);
    const writes: string[] = [];
    page.on("request", (request) => {
      if (request.method() !== "GET") writes.push(`${request.method()} ${request.url()}`);
    });
    await targeting().getByLabel("Who gets what").selectOption("rules");
    const rule = targeting().getByRole("group", { name: "Rule 1" });
    await rule.getByLabel("Attribute").fill("country");
    await rule.getByLabel("Operator").selectOption("in");
    await rule.getByLabel("Values (comma-separated)").fill("");
    await save();
    await page
      .getByRole("alert")
      .filter({ hasText: "targeting: rule 1: give at least one value (none empty)" })
      .waitFor();
    // Over the service's size limit for a definition: its own message.
    const many = Array.from({ length: 4_000 }, (_, n) => `country-${n}`).join(", ");
    await rule.getByLabel("Values (comma-separated)").fill(many);
    await save();
    await page
      .getByRole("alert")
      .filter({ hasText: /serialize to \d+ bytes; the limit is 32768/ })
      .waitFor();
    assert.deepEqual(writes, [], "nothing was sent");
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1);
  });

  it("refuses a rule over the evaluation bounds (a ninth $ref) in the browser, with the service's message", async () => {
    const evaluator = unique("beta");
    await api("PUT", `/evaluators/${evaluator}`, { body: { expression: { "==": [{ var: "beta" }, true] } } });
    const flagName = unique("many-refs");
    const eight = Array.from({ length: 8 }, () => ({ $ref: evaluator }));
    assert.equal((await onOff(flagName, { targeting: { if: [{ or: eight }, "on"] } })).status, 201);
    await signIn();
    await open(flagName);
    const writes: string[] = [];
    page.on("request", (request) => {
      if (request.method() !== "GET") writes.push(`${request.method()} ${request.url()}`);
    });
    const rule = targeting().getByRole("group", { name: "Rule 1" });
    await rule.getByRole("button", { name: "Add condition" }).click();
    const ninth = rule.getByRole("group", { name: "Condition 9" });
    await ninth.getByLabel("Operator").selectOption("ref");
    await ninth.getByLabel("Shared evaluator").selectOption(evaluator);
    await save();
    await page
      .getByRole("alert")
      .filter({ hasText: /a flag may use \$ref at most 8 times \(bound: refsPerFlag 8\)/ })
      .waitFor();
    assert.deepEqual(writes, [], "nothing was sent");
    assert.equal((await api("GET", `/flags/${flagName}`)).body.version, 1);
  });

  it("fits the targeting form and slider into 390 px without scrolling sideways", async () => {
    const flagName = unique("narrow");
    await onOff(flagName, {
      targeting: {
        if: [
          { and: [{ sem_ver: [{ var: "appVersion" }, ">=", "2.1.0"] }, { in: [{ var: "country" }, ["de"]] }] },
          "on",
        ],
      },
    });
    await page.setViewportSize({ width: 390, height: 800 });
    await signIn();
    await open(flagName);
    await targeting().getByRole("group", { name: "Rule 1" }).waitFor();
    const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert.equal(overflow, 0);
    const heights = await targeting()
      .locator("button, select, input")
      .evaluateAll((all) => all.map((element) => element.getBoundingClientRect().height));
    assert.ok(heights.length > 5 && heights.every((height) => height >= 44), `touch targets: ${heights.join(", ")}`);
  });
});
