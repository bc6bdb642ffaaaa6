/** `npm run bench -- rest`: REST latency on the local runtime, one client, requests one after another. */
import { startService } from "../local/service";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { percentile, sequentialLatencies } from "./stats";

export async function restLatency(): Promise<void> {
  const n = 300;
  console.log(`\n## REST latency on the local runtime (${n} sequential requests each, one client)`);
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    const measure = async (label: string, request: (i: number) => Promise<{ status: number }>, ok: number) => {
      const samples = await sequentialLatencies(label, n, request, ok);
      console.log(
        `${label.padEnd(24)} p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms`,
      );
    };
    await measure("POST /flags", (i) => api("POST", "/flags", { body: { flagName: `bench-${i}`, value: i } }), 201);
    await measure("GET /flags/{flagName}", (i) => api("GET", `/flags/bench-${i}`), 200);
    await measure("PUT /flags/{flagName}", (i) => api("PUT", `/flags/bench-${i}`, { body: { value: -i } }), 200);
    await measure("GET /flags?limit=100", () => api("GET", "/flags?limit=100"), 200);
    await measure("DELETE /flags/{flagName}", (i) => api("DELETE", `/flags/bench-${i}`), 204);
  } finally {
    await service.stop();
  }
}
