/** `npm run bench -- propagation`: how soon a REST change reaches a WebSocket client on the local runtime. */
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { connect } from "../tests/support/wsClient";
import { percentile } from "./stats";

export async function propagation(): Promise<void> {
  const changes = 250;
  console.log(
    `\n## Propagation on the local runtime: PUT response → message at a WebSocket client (${changes} changes)`,
  );
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "bench-live", value: 0 } });
    const ws = await connect(`${service.websocketUrl}?token=${READ_TOKEN}`);
    await ws.waitFor((m) => m.type === "snapshot");
    const samples: number[] = [];
    for (let version = 2; version <= changes + 1; version++) {
      const result = await api("PUT", "/flags/bench-live", { body: { value: version } });
      const responded = performance.now();
      if (result.status !== 200) throw new Error(`PUT: ${result.status}`);
      await ws.waitFor((m) => m.type === "flag.updated" && m.flag.version === version, 10_000);
      samples.push(performance.now() - responded);
    }
    await ws.close();
    console.log(
      `p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms  max ${Math.max(...samples).toFixed(1)} ms  (target: p50 < 250 ms)`,
    );
  } finally {
    await service.stop();
  }
}
