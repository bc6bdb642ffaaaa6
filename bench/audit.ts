/** `npm run bench -- audit`: how soon a change's line lands in the local runtime's audit files. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { percentile } from "./stats";

export async function auditDelay(): Promise<void> {
  const changes = 100;
  console.log(
    `\n## Audit delay on the local runtime: change's response → its line in the .ndjson file (${changes} changes)`,
  );
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-bench-audit-"));
  const service = await startService({
    port: 0,
    allowFlagDeletion: () => true,
    tokens: TEST_TOKENS,
    auditDataDir: dataDir,
  });
  const countLines = () =>
    fs
      .readdirSync(path.join(dataDir, "audit"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ndjson"))
      .reduce((n, file) => n + fs.readFileSync(path.join(dataDir, "audit", file), "utf8").split("\n").length - 1, 0);
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const samples: number[] = [];
    for (let i = 0; i < changes; i++) {
      const result = await api("POST", "/flags", { body: { flagName: `audit-${i}`, value: i } });
      const responded = performance.now();
      if (result.status !== 201) throw new Error(`POST: ${result.status}`);
      while (!fs.existsSync(path.join(dataDir, "audit")) || countLines() < i + 1) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      samples.push(performance.now() - responded);
    }
    console.log(`p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms`);
    console.log("(on AWS, Firehose buffers: a line lands in S3 within about 60 s of the change)");
  } finally {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
