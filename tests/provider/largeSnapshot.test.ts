import { strict as assert } from "node:assert";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { FeatureFlagsProvider } from "@feature-flags/openfeature-provider";
import { localDynamoClient } from "../../local/dynamodb";
import type { RunningService } from "../../local/service";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";
import { connect } from "../support/wsClient";

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

describe("a flag set over API Gateway's message limit, end to end on the local runtime", () => {
  let service: RunningService;
  const count = 400;

  before(async () => {
    ({ service } = await startTestService());
    // Written straight to the table (as stored flags), which is much faster than 400 POSTs.
    const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
    try {
      for (let i = 0; i < count; i += 25) {
        const items = Array.from({ length: 25 }, (_, j) => ({
          flagName: `big-${i + j}`,
          valueJson: JSON.stringify({ n: i + j, padding: "p".repeat(1200) }),
          version: 1,
          createdAt: "2026-11-30T00:00:00.000Z",
          updatedAt: "2026-11-30T00:00:00.000Z",
          createdBy: "admin",
          updatedBy: "admin",
        }));
        await doc.send(
          new BatchWriteCommand({
            RequestItems: { [service.tableName]: items.map((Item) => ({ PutRequest: { Item } })) },
          }),
        );
      }
    } finally {
      doc.destroy();
    }
  });
  after(() => service.stop());

  it("arrives as several snapshot frames, each within 128 KiB", async () => {
    const client = await connect(`${service.websocketUrl}?token=${READ_TOKEN}`);
    try {
      const first = await client.waitFor((m) => m.type === "snapshot");
      await client.waitFor((m) => m.type === "snapshot" && m.part === first.parts);
      const frames = client.messages.filter((m) => m.type === "snapshot");
      assert.ok(first.parts >= 4, `${first.parts} parts`);
      assert.ok(frames.every((m) => Buffer.byteLength(JSON.stringify(m)) <= 128 * 1024));
      assert.equal(new Set(frames.flatMap((m) => m.flags.map((f: { flagName: string }) => f.flagName))).size, count);
    } finally {
      await client.close();
    }
  });

  it("is held whole by the provider, which becomes READY only then", async () => {
    const provider = new FeatureFlagsProvider({ url: service.websocketUrl, token: READ_TOKEN, logger: quiet });
    try {
      await provider.initialize();
      const last = await provider.resolveObjectEvaluation(`big-${count - 1}`, {}, {});
      assert.deepEqual([(last.value as { n: number }).n, last.reason], [count - 1, "STATIC"]);
      const all = await Promise.all(
        Array.from({ length: count }, (_, i) => provider.resolveObjectEvaluation(`big-${i}`, {}, {})),
      );
      assert.ok(all.every((details, i) => (details.value as { n: number }).n === i));
    } finally {
      await provider.onClose();
    }
  });
});
