/**
 * `npm run bench -- provider`: the OpenFeature provider's sections — evaluation cost, the CPU a
 * snapshot and a change take, and how soon a change reaches a server-sdk client.
 */
import { performance } from "node:perf_hooks";
import { FeatureFlagsProvider, FeatureFlagsWebProvider } from "@feature-flags/openfeature-provider";
import { OpenFeature, ProviderEvents } from "@openfeature/server-sdk";
import WebSocket, { WebSocketServer } from "ws";
import { startService } from "../local/service";
import { FlagSet } from "../packages/openfeature-provider/src/flagSet";
import { client } from "../tests/support/http";
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS } from "../tests/support/tokens";
import { percentile } from "./stats";

export async function providerEvaluation(): Promise<void> {
  console.log("\n## OpenFeature provider: local evaluation cost (flagd-core, flags held in memory)");
  // Rich flags (fractional rules) cannot be created over REST until flag evaluation lands, so a
  // stand-in server sends them as the contract's snapshot.
  const flags = [
    { flagName: "static", version: 1, value: true },
    {
      flagName: "fractional",
      version: 1,
      variants: { red: "red", blue: "blue", green: "green" },
      defaultVariant: "red",
      targeting: { fractional: [{ var: "targetingKey" }, ["red", 50], ["blue", 30], ["green", 20]] },
    },
  ];
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (socket) =>
    socket.send(JSON.stringify({ type: "snapshot", part: 1, parts: 1, evaluators: {}, flags })),
  );
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`;
  const provider = new FeatureFlagsWebProvider({ url, token: "bench", WebSocket: WebSocket as never });
  await provider.initialize();
  try {
    const contexts = Array.from({ length: 1000 }, (_, i) => ({ targetingKey: `user-${i}`, plan: "pro" }));
    const measure = (label: string, evaluate: (i: number) => unknown) => {
      const batch = 1000;
      const perEval: number[] = [];
      for (let round = 0; round < 300; round++) {
        const started = process.hrtime.bigint();
        for (let i = 0; i < batch; i++) evaluate(i);
        perEval.push(Number(process.hrtime.bigint() - started) / batch);
      }
      console.log(
        `${label.padEnd(44)} p50 ${percentile(perEval, 50).toFixed(0)} ns/eval  p99 ${percentile(perEval, 99).toFixed(0)} ns/eval  (target: p50 < 5,000 ns)`,
      );
    };
    if (provider.resolveStringEvaluation("fractional", "x", contexts[0]).reason !== "TARGETING_MATCH") {
      throw new Error("the fractional rule did not match");
    }
    measure("static flag (reason STATIC)", (i) => provider.resolveBooleanEvaluation("static", false, contexts[i]));
    measure("fractional rule, 1,000 targeting keys", (i) =>
      provider.resolveStringEvaluation("fractional", "x", contexts[i]),
    );
  } finally {
    await provider.onClose();
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function providerChangeCost(): Promise<void> {
  console.log("\n## OpenFeature provider: CPU to take in a snapshot and one change, by flag-set size");
  const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
  for (const count of [100, 1000, 5000]) {
    const flagSet = new FlagSet(quiet);
    const flags = Array.from({ length: count }, (_, i) => ({
      flagName: `f${i}`,
      version: 1,
      value: { n: i, pad: "x".repeat(500) },
    }));
    let started = performance.now();
    flagSet.replace(flags, {});
    const first = performance.now() - started;
    started = performance.now();
    flagSet.replace(flags, {});
    const again = performance.now() - started;
    const samples: number[] = [];
    for (let version = 2; version < 102; version++) {
      started = performance.now();
      flagSet.apply({ type: "flag.updated", flag: { flagName: "f1", version, value: version } });
      samples.push(performance.now() - started);
    }
    console.log(
      `${String(count).padStart(5)} flags: first snapshot ${first.toFixed(0)} ms, same snapshot again ${again.toFixed(0)} ms, one change p50 ${percentile(samples, 50).toFixed(2)} ms`,
    );
  }
}

export async function providerChangeLatency(): Promise<void> {
  const changes = 200;
  console.log(
    `\n## OpenFeature provider: PUT response → PROVIDER_CONFIGURATION_CHANGED at a server-sdk client, local runtime (${changes} changes)`,
  );
  const service = await startService({ port: 0, allowFlagDeletion: () => true, tokens: TEST_TOKENS });
  try {
    const api = client(service.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "bench-provider", value: 0 } });
    await OpenFeature.setProviderAndWait(
      "bench",
      new FeatureFlagsProvider({ url: service.websocketUrl, token: READ_TOKEN }),
    );
    const featureClient = OpenFeature.getClient("bench");
    let wake: (() => void) | undefined;
    featureClient.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      if (details?.flagsChanged?.includes("bench-provider")) wake?.();
    });
    const samples: number[] = [];
    for (let value = 1; value <= changes; value++) {
      const seen = new Promise<void>((resolve) => (wake = resolve));
      const result = await api("PUT", "/flags/bench-provider", { body: { value } });
      const responded = performance.now();
      if (result.status !== 200) throw new Error(`PUT: ${result.status}`);
      await seen;
      samples.push(performance.now() - responded);
      if ((await featureClient.getNumberValue("bench-provider", -1)) !== value)
        throw new Error("stale value after the event");
    }
    console.log(
      `p50 ${percentile(samples, 50).toFixed(1)} ms  p99 ${percentile(samples, 99).toFixed(1)} ms  max ${Math.max(...samples).toFixed(1)} ms  (target: p50 < 100 ms)`,
    );
  } finally {
    await OpenFeature.close();
    await service.stop();
  }
}
