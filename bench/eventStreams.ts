/**
 * `npm run bench -- event-streams`: how soon a REST change reaches OFREP event streams (SSE) on the
 * local runtime, from the PUT's response to the `refetchEvaluation` event at each stream.
 */
import { performance } from "node:perf_hooks";
import { startService } from "../local/service";
import { setClientSide } from "../tests/support/clientSide";
import { client } from "../tests/support/http";
import { openSse, refetchOf, type SseConnection } from "../tests/support/sse";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { writeResult } from "./results";
import { percentile } from "./stats";

export async function eventStreams(): Promise<void> {
  const changes = 50;
  const streamsPerToken = 5;
  console.log(
    `\n## OFREP event streams on the local runtime: PUT response → refetchEvaluation at ${2 * streamsPerToken} SSE streams (${changes} changes)`,
  );
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  const streams: SseConnection[] = [];
  try {
    const api = client(service.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "bench-banner", value: 0 } });
    await setClientSide(service, "bench-banner");
    // Half the streams are client keys' (they see the client-side flag), half a read token's.
    for (const token of [CLIENT_TOKEN, READ_TOKEN]) {
      const bulk = await client(service.url, token)("POST", "/ofrep/v1/evaluate/flags", { body: { context: {} } });
      const url = bulk.body.eventStreams[0].url as string;
      for (let i = 0; i < streamsPerToken; i++) {
        const stream = await openSse(url);
        await stream.next((block) => block.id !== undefined, 5000);
        streams.push(stream);
      }
    }
    // Whatever the opening sent (a refetch if the configuration moved since the bulk) is spent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const stream of streams)
      while (stream.blocks.length > 0 && (await stream.next(() => true, 1).catch(() => undefined)));
    const samples: number[] = [];
    for (let value = 1; value <= changes; value++) {
      const result = await api("PUT", "/flags/bench-banner", { body: { value } });
      const responded = performance.now();
      if (result.status !== 200) throw new Error(`PUT: ${result.status}`);
      await Promise.all(
        streams.map(async (stream) => {
          await stream.next((block) => refetchOf(block) !== undefined, 5000);
          samples.push(performance.now() - responded);
        }),
      );
    }
    const figures = {
      changes,
      streams: streams.length,
      samples: samples.length,
      p50Ms: Number(percentile(samples, 50).toFixed(1)),
      p99Ms: Number(percentile(samples, 99).toFixed(1)),
      maxMs: Number(Math.max(...samples).toFixed(1)),
    };
    console.log(
      `p50 ${figures.p50Ms} ms  p99 ${figures.p99Ms} ms  max ${figures.maxMs} ms  over ${samples.length} events (target: p50 < 250 ms, all < 1 s)`,
    );
    writeResult("event-streams", figures);
  } finally {
    for (const stream of streams) stream.close();
    await service.stop();
  }
}
