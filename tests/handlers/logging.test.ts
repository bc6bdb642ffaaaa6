import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { ERROR_LOG_PATTERN } from "../../components/observability";
import { makeReadRoutes, makeWriteRoutes } from "../../handlers/flags/routes";
import { makeFlagStore } from "../../handlers/flags/store";
import { makeProxyHandler } from "../../handlers/http";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureFlagsTable } from "../../local/tables";
import { captureOutput } from "../support/capture";
import { sharedDynamo, uniqueTableName } from "../support/hooks";
import { proxyEvent } from "../support/proxyEvents";

/** The levels the alarm's metric filter selects, read out of its pattern (`$.level = "ERROR"` …). */
const alarmedLevels = [...ERROR_LOG_PATTERN.matchAll(/\$\.level = "([A-Z]+)"/g)].map((m) => m[1]);

/** The level of every JSON log line in `output` (what the error-log metric filter reads). */
const levels = (output: string): string[] =>
  output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { level: string }).level);

describe("log levels: client errors are WARN, only faults are ERROR", () => {
  const saved = process.env.POWERTOOLS_LOG_LEVEL;
  let healthy: ReturnType<typeof makeProxyHandler>;
  let broken: ReturnType<typeof makeProxyHandler>;

  before(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = "DEBUG";
    const dynamo = await sharedDynamo();
    const tableName = uniqueTableName("logs");
    const client = localDynamoClient(dynamo.endpoint);
    await ensureFlagsTable(client, tableName);
    const store = makeFlagStore({ doc: DynamoDBDocumentClient.from(client), tableName });
    healthy = makeProxyHandler({ ...makeReadRoutes({ store }), ...makeWriteRoutes({ store }) }, new Logger());
    // A table that does not exist: every DynamoDB call fails, as in an outage or a bad deploy.
    const missing = makeFlagStore({ doc: DynamoDBDocumentClient.from(client), tableName: "no-such-table" });
    broken = makeProxyHandler(makeReadRoutes({ store: missing }), new Logger());
  });
  after(() => {
    process.env.POWERTOOLS_LOG_LEVEL = saved;
  });

  it("logs a 404 at WARN, with no ERROR line", async () => {
    const { result, output } = await captureOutput(() =>
      healthy(proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "absent" } })),
    );
    assert.equal(result.statusCode, 404);
    assert.deepEqual(levels(output), ["WARN"]);
    assert.ok(!levels(output).some((level) => alarmedLevels.includes(level)), "the error alarm would count it");
  });

  it("logs a 400 at WARN, with no ERROR line", async () => {
    const { result, output } = await captureOutput(() =>
      healthy(proxyEvent({ method: "POST", resource: "/flags", body: "{not json" })),
    );
    assert.equal(result.statusCode, 400);
    assert.deepEqual(levels(output), ["WARN"]);
    assert.ok(!levels(output).some((level) => alarmedLevels.includes(level)), "the error alarm would count it");
  });

  it("logs a DynamoDB failure at ERROR and answers 500 without internals", async () => {
    const { result, output } = await captureOutput(() =>
      broken(proxyEvent({ method: "GET", resource: "/flags/{flagName}", params: { flagName: "x" } })),
    );
    assert.equal(result.statusCode, 500);
    assert.deepEqual(JSON.parse(result.body), { error: { code: "INTERNAL", message: "internal error" } });
    assert.deepEqual(levels(output), ["ERROR"]);
    assert.ok(alarmedLevels.includes("ERROR"), "the error alarm must count it");
    assert.match(output, /ResourceNotFoundException/);
  });
});
