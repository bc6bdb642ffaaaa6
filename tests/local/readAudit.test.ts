import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { localDynamoClient } from "../../local/dynamodb";
import type { RunningService } from "../../local/service";
import { client, type Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";
import { auditLines } from "../support/auditFiles";

describe("read audit lines on the local runtime: from the HTTP layer, not from the table", () => {
  let service: RunningService;
  let api: Client;
  let reader: Client;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-reads-"));
    ({ service, api } = await startTestService({ auditDataDir: dataDir }));
    reader = client(service.url, READ_TOKEN);
  });
  after(async () => {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Every line of the trail, in file order. */
  const trailOf = (dir: string) => auditLines(dir) as unknown as Array<Record<string, unknown>>;
  const waitFor = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while (trailOf(dataDir).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 1_500)); // nothing more may arrive
    return trailOf(dataDir);
  };

  it("writes one read line per successful read of a flag, though only the first read stamps the item", async () => {
    await api("POST", "/flags", { body: { flagName: "watched", value: 1 } });
    const stamps = [];
    for (let i = 0; i < 3; i++) stamps.push((await reader("GET", "/flags/watched")).body.lastAccessed);
    assert.equal(new Set(stamps).size, 1, "one stamp within the minute");
    // Not reads of a flag: a listing, a history, an evaluation, a missing flag, a refused token.
    await reader("GET", "/flags?limit=5");
    await reader("GET", "/flags/watched/history");
    await reader("POST", "/ofrep/v1/evaluate/flags/watched", { body: { context: {} } });
    await reader("GET", "/flags/absent");
    await client(service.url, "not-a-token")("GET", "/flags/watched");

    const lines = await waitFor(4);
    assert.deepEqual(
      lines.map((l) => [l.eventName, l.flagName, l.actor, l.version]),
      [
        ["created", "watched", "admin", 1],
        ["read", "watched", "reader", 1],
        ["read", "watched", "reader", 1],
        ["read", "watched", "reader", 1],
      ],
    );
    const read = lines[1];
    assert.deepEqual(Object.keys(read), [
      "eventId",
      "eventName",
      "flagName",
      "at",
      "actor",
      "version",
      "before",
      "after",
    ]);
    assert.deepEqual([read.before, read.after], [null, null]);
    assert.match(String(read.at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(new Set(lines.map((l) => l.eventId)).size, lines.length);
  });

  it("a read between two changes sorts between them; the read's stamp makes no line of its own", async () => {
    const already = trailOf(dataDir).length;
    await api("POST", "/flags", { body: { flagName: "between", value: "a" } });
    await reader("GET", "/flags/between");
    await api("PUT", "/flags/between", { body: { value: "b" } });
    // The stamp is in the table (so a stream record was written), yet no line came of it.
    const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
    try {
      const item = (await doc.send(new GetCommand({ TableName: service.tableName, Key: { flagName: "between" } })))
        .Item;
      assert.ok(item?.lastAccessed !== undefined);
    } finally {
      doc.destroy();
    }
    const lines = (await waitFor(already + 3)).slice(already);
    assert.deepEqual(
      lines.map((l) => [l.eventName, l.flagName, l.version]),
      [
        ["created", "between", 1],
        ["read", "between", 1],
        ["updated", "between", 2],
      ],
    );
  });
});
