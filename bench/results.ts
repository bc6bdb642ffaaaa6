import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const RESULTS_DIR = path.resolve(__dirname, "results");

/** Where and when a figure was measured: numbers mean little without the machine. */
export function machine(): Record<string, unknown> {
  return {
    at: new Date().toISOString(),
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    loadAverage: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** Writes one section's figures to `bench/results/<section>.json`. */
export function writeResult(section: string, figures: unknown): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(
    path.join(RESULTS_DIR, `${section}.json`),
    `${JSON.stringify({ section, machine: machine(), figures }, null, 2)}\n`,
  );
}
