import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { localDynamoClient } from "../../local/dynamodb";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";

describe("concurrent writes on the local runtime", () => {
  let service: RunningService;
  let api: Client;

  before(async () => {
    ({ service, api } = await startTestService());
  });
  after(() => service.stop());

  const storedItem = async (flagName: string) => {
    const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
    try {
      return (await doc.send(new GetCommand({ TableName: service.tableName, Key: { flagName } }))).Item;
    } finally {
      doc.destroy();
    }
  };

  it("gives exactly one of 20 concurrent creates of one name a 201, the rest 409", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api("POST", "/flags", { body: { flagName: "race", value: i } })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array(19).fill(409)]);
    const winner = results.find((r) => r.status === 201)?.body;
    assert.deepEqual((await api("GET", "/flags/race")).body.value, winner.value);
  });

  it("advances lastAccessed on reads while a concurrent PUT's value survives", async () => {
    await api("POST", "/flags", { body: { flagName: "touched", value: "old" } });
    const reads = Array.from({ length: 30 }, () => api("GET", "/flags/touched"));
    const write = api("PUT", "/flags/touched", { body: { value: "new" } });
    const [readResults, writeResult] = await Promise.all([Promise.all(reads), write]);
    assert.equal(writeResult.status, 200);
    assert.ok(readResults.every((r) => r.status === 200));

    // Straight from the table, so no read of ours stamps it on the way.
    const stored = await storedItem("touched");
    assert.equal(stored?.valueJson, '"new"');
    assert.equal(stored?.version, 2);
    const stamps = readResults.map((r) => r.body.lastAccessed as string);
    assert.ok(stamps.includes(stored?.lastAccessed as string), "lastAccessed is one of the reads' stamps");
  });

  it("stamps lastAccessed on the first read and keeps that stamp for the minute (no write per read)", async () => {
    await api("POST", "/flags", { body: { flagName: "stamped", value: 1 } });
    const before = Date.now();
    const stamps: string[] = [];
    for (let i = 0; i < 5; i++) {
      stamps.push((await api("GET", "/flags/stamped")).body.lastAccessed);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.equal(new Set(stamps).size, 1);
    assert.ok(Date.parse(stamps[0]) >= before - 5);
    assert.equal((await storedItem("stamped"))?.lastAccessed, stamps[0]);
  });

  it("applies each of 10 concurrent If-Match updates of one version at most once", async () => {
    await api("POST", "/flags", { body: { flagName: "cas", value: 0 } });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api("PUT", "/flags/cas", { body: { value: i + 1 }, headers: { "If-Match": "1" } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array(9).fill(412)]);
    assert.equal((await api("GET", "/flags/cas")).body.version, 2);
  });

  it("counts every one of 25 concurrent unconditional updates in the version", async () => {
    await api("POST", "/flags", { body: { flagName: "counter", value: 0 } });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => api("PUT", "/flags/counter", { body: { value: i } })),
    );
    assert.ok(results.every((r) => r.status === 200));
    const versions = results.map((r) => r.body.version).sort((a, b) => a - b);
    assert.deepEqual(
      versions,
      Array.from({ length: 25 }, (_, i) => i + 2),
    );
  });
});
