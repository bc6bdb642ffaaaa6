/**
 * One headless Chromium for the whole test run, shared by every browser suite (launching one costs
 * about a second and a few hundred MiB): each suite opens its own contexts in it. Closed by a root
 * after-all hook once every suite has run.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** CHROMIUM_PATH, else the usual places of a system Chromium or Chrome. */
export function findChromium(): string | undefined {
  const candidates = [
    process.env.CHROMIUM_PATH,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  return candidates.find((candidate) => candidate !== undefined && candidate !== "" && existsSync(candidate));
}

/**
 * Skips the calling suite when there is no Chromium, saying what did not run and how to install one
 * (the same words as the web console's browser tests).
 */
export function skipWithoutChromium(context: Mocha.Context, what: string): void {
  if (findChromium() !== undefined) return;
  console.log(
    `      SKIPPED: no Chromium found, so ${what} did not run.\n` +
      "      Install one with `apt-get install chromium` (or set CHROMIUM_PATH to a Chromium or Chrome binary).",
  );
  context.skip();
}

let shared: Promise<Browser> | undefined;

/** The run's Chromium, launched on first use; throws when there is none (see `skipWithoutChromium`). */
export function sharedBrowser(): Promise<Browser> {
  if (shared === undefined) {
    const executablePath = findChromium();
    if (executablePath === undefined) return Promise.reject(new Error("no Chromium found (set CHROMIUM_PATH)"));
    // --no-sandbox: CI and these machines run as root, where Chromium's sandbox cannot start.
    shared = chromium.launch({ executablePath, args: ["--no-sandbox"] });
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

async function closeSharedBrowser(): Promise<void> {
  const browser = shared;
  shared = undefined;
  // A launch that failed has already failed its suite: nothing to close.
  await (await browser?.catch(() => undefined))?.close();
}

// A test file imports this module at its top, before its `describe` runs, so this `after` lands on
// mocha's root suite: it runs once, after every suite of the run (as hooks.ts stops DynamoDB Local).
// Outside mocha (no global `after`) nothing is registered.
if (typeof after === "function") after(closeSharedBrowser);
