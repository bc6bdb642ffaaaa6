/**
 * `npm run bench -- console`: the web console with 10,000 flags in Chromium against the local
 * runtime (issue 25; CONTRACT.md, "Web console": the list within 2 s of signing in, a search
 * narrowing it within 300 ms). Per run, a fresh browser context: sign-in → first rows,
 * sign-in → every flag loaded, search latencies (typing → rows narrowed, measured in the page),
 * a live change's REST answer → its row updated, and the JS heap after load (after a GC).
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { chromium } from "playwright-core";
import { buildConsole } from "../console/build";
import { startService } from "../local/service";
import { findChromium } from "../tests/support/browser";
import { searchScript, untilScript } from "../tests/support/pageUntil";
import { client } from "../tests/support/http";
import { seededName, seedFlags } from "../tests/support/seedFlags";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { writeResult } from "./results";
import { percentile } from "./stats";

const FLAGS = 10_000;
const RUNS = 5;
/** Searches per run: a single flag from anywhere in the set, ten, a hundred, a thousand, none. */
const SEARCHES: { text: string; rows: number }[] = [
  { text: seededName("bench", 9876), rows: 1 },
  { text: seededName("bench", 4321).slice(0, -1), rows: 10 },
  { text: seededName("bench", 4321).slice(0, -2), rows: 100 },
  { text: "number 9", rows: 100 }, // 1,111 match the description: the list renders its first 100
  { text: "no-such-flag", rows: 0 },
];

export async function consoleBench(): Promise<void> {
  console.log(`\n## Web console with ${FLAGS.toLocaleString("en-US")} flags in Chromium (${RUNS} sign-ins)`);
  const executablePath = findChromium();
  if (executablePath === undefined) {
    console.log("skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)");
    return;
  }
  const consoleDir = mkdtempSync(path.join(os.tmpdir(), "flags-console-bench-"));
  const service = await startService({
    port: 0,
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    consoleDir: (await buildConsole(consoleDir)).dir,
  });
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const seeding = performance.now();
    await seedFlags(service, FLAGS, "bench");
    console.log(`seeded ${FLAGS} flags straight to the table in ${(performance.now() - seeding).toFixed(0)} ms`);
    const api = client(service.url, ADMIN_TOKEN);
    const firstRows: number[] = [];
    const allLoaded: number[] = [];
    const searches: number[] = [];
    const liveRow: number[] = [];
    const messageToRow: number[] = [];
    const heapMiB: number[] = [];
    const renderedRows: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        // Notes when the page's WebSocket receives a flag.updated (before the console's own
        // handler runs), to split a live change's time into the service's and the console's.
        await page.addInitScript({
          content: `window.WebSocket = class extends window.WebSocket {
            constructor(...args) {
              super(...args);
              this.addEventListener("message", (event) => {
                if (String(event.data).includes('"flag.updated"')) window.lastFlagUpdateAt = performance.now();
              });
            }
          };`,
        });
        await page.goto(`${service.url}/console/`);
        await page.getByLabel("API token").fill(ADMIN_TOKEN);
        const pressed = performance.now();
        await page.getByLabel("API token").press("Enter");
        await page.locator("tr[data-flag]").first().waitFor();
        firstRows.push(performance.now() - pressed);
        await page.getByText(`${FLAGS.toLocaleString("en-US")} flags`, { exact: true }).waitFor({ timeout: 60_000 });
        allLoaded.push(performance.now() - pressed);
        await page.locator('[data-connection="live"]').waitFor();
        renderedRows.push(await page.locator("tr[data-flag]").count());
        const cdp = await context.newCDPSession(page);
        await cdp.send("HeapProfiler.collectGarbage");
        const heap = await cdp.send("Runtime.getHeapUsage");
        heapMiB.push(heap.usedSize / 2 ** 20);
        for (const search of SEARCHES)
          searches.push(await page.evaluate<number>(searchScript(search.text, search.rows)));
        await page.evaluate<number>(searchScript("", 100));
        // A live change to a flag at the top of the list (bench-00003 is a boolean): PUT answered → row shows it.
        const flagName = seededName("bench", 3);
        const current = await api("GET", `/flags/${flagName}`);
        const value = !(current.body.value as boolean);
        const put = await api("PUT", `/flags/${flagName}`, {
          body: { value },
          headers: { "If-Match": String(current.body.version) },
        });
        if (put.status !== 200) throw new Error(`PUT ${flagName}: ${put.status}`);
        const answered = performance.now();
        // Polled in the page (the CSP forbids waitForFunction's eval).
        await page.evaluate(
          untilScript(
            `document.querySelector('tr[data-flag="${flagName}"] [role=switch]')?.getAttribute("aria-checked") === "${value}"`,
          ),
        );
        liveRow.push(performance.now() - answered);
        messageToRow.push(await page.evaluate<number>("performance.now() - window.lastFlagUpdateAt"));
      } finally {
        await context.close();
      }
    }
    const row = (label: string, samples: number[], unit: string, target: string) =>
      console.log(
        `${label.padEnd(36)} p50 ${percentile(samples, 50).toFixed(0).padStart(5)} ${unit}  max ${Math.max(...samples)
          .toFixed(0)
          .padStart(5)} ${unit}  ${target}`,
      );
    row("sign-in → first rows", firstRows, "ms", "(target: < 2,000 ms)");
    row("sign-in → all 10,000 loaded", allLoaded, "ms", "(100 pages of 100, in sequence)");
    row(`search → rows narrowed (${searches.length})`, searches, "ms", "(target: < 300 ms)");
    row("live change → its row updated", liveRow, "ms", "(PUT answered → switch flipped)");
    row("  of which message → row updated", messageToRow, "ms", "(the console's part, at 10,000 flags)");
    row("JS heap after load (after GC)", heapMiB, "MiB", "");
    console.log(`rows rendered after load: ${Math.max(...renderedRows)} of ${FLAGS}`);
    const summary = (samples: number[]) => ({
      p50: Number(percentile(samples, 50).toFixed(1)),
      max: Number(Math.max(...samples).toFixed(1)),
      samples: samples.map((s) => Number(s.toFixed(1))),
    });
    writeResult("console", {
      flags: FLAGS,
      runs: RUNS,
      searches: SEARCHES,
      firstRowsMs: summary(firstRows),
      allLoadedMs: summary(allLoaded),
      searchMs: summary(searches),
      liveRowMs: summary(liveRow),
      messageToRowMs: summary(messageToRow),
      heapMiB: summary(heapMiB),
      renderedRows: Math.max(...renderedRows),
    });
  } finally {
    await browser.close();
    await service.stop();
    rmSync(consoleDir, { recursive: true, force: true });
  }
}
