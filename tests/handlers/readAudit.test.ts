import { strict as assert } from "node:assert";
import { gzipSync } from "node:zlib";
import type { FirehoseTransformationResultRecord } from "aws-lambda";
import { REST_ACCESS_LOG_FORMAT } from "../../components/accessLogs";
import { READ_LOG_FILTER_PATTERN, accessLogRead } from "../../handlers/audit/reads";
import { makeAuditTransformHandler } from "../../handlers/audit/transform";
import { logsFirehoseData, restAccessLogLine, restRequest } from "../support/accessLogEvents";
import { matchesFilter } from "../support/logFilter";

const decode = (record: FirehoseTransformationResultRecord) =>
  Buffer.from(record.data ?? "", "base64").toString("utf8");

const read = restAccessLogLine(restRequest("GET", "/flags/{flagName}", "/flags/new-checkout", 200));
const others = {
  "a read of a missing flag (404)": restAccessLogLine(restRequest("GET", "/flags/{flagName}", "/flags/nope", 404)),
  "a refused token (403, no principal)": restAccessLogLine(
    restRequest("GET", "/flags/{flagName}", "/flags/new-checkout", 403, { "authorizer.principalId": "-" }),
  ),
  "a listing": restAccessLogLine(restRequest("GET", "/flags", "/flags", 200)),
  "a flag's history": restAccessLogLine(
    restRequest("GET", "/flags/{flagName}/history", "/flags/new-checkout/history", 200),
  ),
  "an update": restAccessLogLine(restRequest("PUT", "/flags/{flagName}", "/flags/new-checkout", 200)),
  "a preflight": restAccessLogLine(restRequest("OPTIONS", "/flags/{flagName}", "/flags/new-checkout", 204)),
  "an OFREP evaluation": restAccessLogLine(
    restRequest("POST", "/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags/new-checkout", 200),
  ),
};

describe("read audit lines from the REST access logs", () => {
  it("logs what a read line needs (principal, path, status, request time in ms), never a query string", () => {
    const format = JSON.parse(REST_ACCESS_LOG_FORMAT) as Record<string, string>;
    assert.equal(format.principalId, "$context.authorizer.principalId");
    assert.equal(format.path, "$context.path");
    assert.equal(format.resourcePath, "$context.resourcePath");
    assert.equal(format.status, "$context.status");
    assert.equal(format.requestTime, "$context.requestTimeEpoch");
    for (const variable of Object.values(format)) {
      assert.doesNotMatch(variable, /querystring|header|authorizer\.(?!principalId)|requestOverride/i, variable);
    }
  });

  it("the subscription filter passes successful reads of one flag, and nothing else", () => {
    assert.equal(matchesFilter(READ_LOG_FILTER_PATTERN, read), true);
    for (const [what, line] of Object.entries(others)) {
      assert.equal(matchesFilter(READ_LOG_FILTER_PATTERN, line), false, what);
    }
  });

  it("reads a line's flag (the path's last segment, decoded), actor and time; nothing from any other line", () => {
    assert.deepEqual(accessLogRead(read), {
      requestId: "req-GET-/flags/new-checkout-200",
      read: { flagName: "new-checkout", at: 1764979200123, actor: "reader" },
    });
    const encoded = restAccessLogLine(restRequest("GET", "/flags/{flagName}", "/flags/a%2Eb", 200));
    assert.equal(accessLogRead(encoded)?.read.flagName, "a.b");
    for (const [what, line] of Object.entries(others)) assert.equal(accessLogRead(line), undefined, what);
    for (const hostile of ["", "not json", "null", "[]", '{"method":"GET"}']) {
      assert.equal(accessLogRead(hostile), undefined, hostile);
    }
    const badEscape = restAccessLogLine(restRequest("GET", "/flags/{flagName}", "/flags/%E0%A4%A", 200));
    assert.equal(accessLogRead(badEscape), undefined);
  });

  describe("the Firehose processor with CloudWatch Logs payloads", () => {
    const errors: unknown[] = [];
    const transform = makeAuditTransformHandler({ logger: { error: (...args: unknown[]) => errors.push(args) } });
    const record = (recordId: string, data: string) => ({ recordId, approximateArrivalTimestamp: 0, data });

    it("turns a DATA_MESSAGE into one read line per successful read, in the contract's format", async () => {
      const second = restAccessLogLine(
        restRequest("GET", "/flags/{flagName}", "/flags/other", 200, {
          requestId: "req-2",
          requestTimeEpoch: "1764979260000",
          "authorizer.principalId": "ci-bot",
        }),
      );
      const result = await transform({
        invocationId: "i",
        deliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
        region: "eu-west-1",
        records: [record("logs", logsFirehoseData([read, others["a listing"], second]))],
      });
      assert.deepEqual(
        result.records.map((r) => [r.recordId, r.result]),
        [["logs", "Ok"]],
      );
      const text = decode(result.records[0]);
      assert.ok(text.endsWith("\n"));
      const lines = text
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(lines, [
        {
          eventId: "req-GET-/flags/new-checkout-200",
          eventName: "read",
          flagName: "new-checkout",
          at: "2025-12-06T00:00:00.123Z",
          actor: "reader",
          version: null,
          before: null,
          after: null,
        },
        {
          eventId: "req-2",
          eventName: "read",
          flagName: "other",
          at: "2025-12-06T00:01:00.000Z",
          actor: "ci-bot",
          version: null,
          before: null,
          after: null,
        },
      ]);
    });

    it("drops a CONTROL_MESSAGE and a payload without reads; fails a corrupt payload — without failing the batch", async () => {
      errors.length = 0;
      const corrupt = Buffer.concat([gzipSync("{}").subarray(0, 2), Buffer.from("garbage")]).toString("base64");
      const result = await transform({
        invocationId: "i",
        deliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
        region: "eu-west-1",
        records: [
          record("control", logsFirehoseData([], "CONTROL_MESSAGE")),
          record("no-reads", logsFirehoseData(Object.values(others))),
          record("corrupt", corrupt),
          record("read", logsFirehoseData([read])),
        ],
      });
      assert.deepEqual(
        result.records.map((r) => [r.recordId, r.result]),
        [
          ["control", "Dropped"],
          ["no-reads", "Dropped"],
          ["corrupt", "ProcessingFailed"],
          ["read", "Ok"],
        ],
      );
      assert.equal(result.records[2].data, corrupt, "a failed record keeps its data for the error prefix");
      assert.equal(errors.length, 1);
    });
  });
});
