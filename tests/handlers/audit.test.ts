import { strict as assert } from "node:assert";
import type { DynamoDBRecord, FirehoseTransformationResultRecord } from "aws-lambda";
import { evaluatorRecordToAuditLine, recordToAuditLine, streamRecordToAuditLine } from "../../handlers/audit/records";
import { makeAuditTransformHandler } from "../../handlers/audit/transform";
import { captureStreamRecords } from "../support/streamRecords";

const firehoseRecord = (recordId: string, data: string) => ({
  recordId,
  approximateArrivalTimestamp: Date.now(),
  data: Buffer.from(data, "utf8").toString("base64"),
});
const decode = (record: FirehoseTransformationResultRecord) =>
  Buffer.from(record.data ?? "", "base64").toString("utf8");

describe("audit transform with real DynamoDB Local stream records", () => {
  const records: DynamoDBRecord[] = [];
  const errors: unknown[] = [];
  const transform = makeAuditTransformHandler({ logger: { error: (...args: unknown[]) => errors.push(args) } });

  before(async () => {
    records.push(
      ...(await captureStreamRecords(5, async (store) => {
        await store.create({ flagName: "audited", value: "a", description: "d" }, "admin");
        // Its lastAccessed stamp is a stream record too, which the Pipe's filter keeps from the
        // transform (tests/handlers/streamFilters.test.ts); given one anyway, it makes no line.
        await store.read("audited");
        await store.update("audited", { value: "b" }, "ci-bot");
        await store.remove("audited", "admin");
      })),
    );
  });

  it("turns insert, modify and remove into created, updated, deleted — with actors; a read's stamp into nothing", () => {
    const lines = records.map(recordToAuditLine).filter((line) => line !== undefined);
    assert.deepEqual(
      lines.map((l) => [l.eventName, l.flagName, l.actor, l.version]),
      [
        ["created", "audited", "admin", 1],
        ["updated", "audited", "ci-bot", 2],
        ["deleted", "audited", "admin", 2],
      ],
    );
  });

  it("carries before and after images as plain JSON flags", () => {
    const [created, read, updated, , deleted] = records.map(recordToAuditLine);
    assert.equal(created?.before, null);
    assert.equal(created?.after?.value, "a");
    assert.equal(read, undefined);
    assert.deepEqual([updated?.before?.value, updated?.after?.value], ["a", "b"]);
    assert.equal(updated?.at, updated?.after?.updatedAt);
    assert.equal(deleted?.before?.value, "b");
    assert.equal(deleted?.after, null);
    // Internal bookkeeping stays out of the images.
    assert.ok(!JSON.stringify(deleted).includes("deletionId"));
    assert.ok(!JSON.stringify(deleted?.before).includes("deletedBy"));
    assert.ok(!JSON.stringify(deleted?.before).includes("deletedAt"));
  });

  it("dates a delete by its own stamp, to the millisecond, never before the update that preceded it", () => {
    const [created, , updated, , deleted] = records.map(recordToAuditLine);
    const at = [created?.at, updated?.at, deleted?.at] as string[];
    assert.deepEqual([...at].sort(), at);
    // DynamoDB's stream time is rounded (to the minute on DynamoDB Local): the stamp is not.
    const streamSeconds = records[4].dynamodb?.ApproximateCreationDateTime as number;
    assert.notEqual(deleted?.at, new Date(streamSeconds * 1000).toISOString());
  });

  it("uses each stream record's id as the line's eventId", () => {
    const lines = records.map(recordToAuditLine).filter((line) => line !== undefined);
    assert.equal(new Set(lines.map((l) => l.eventId)).size, 3);
    assert.ok(lines.every((line, i) => records.some((r) => r.eventID === line.eventId) && i >= 0));
  });

  it("returns each line newline-terminated, drops the read and delete stamps, fails what it cannot read — without failing the batch", async () => {
    const result = await transform({
      invocationId: "i",
      deliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
      region: "eu-west-1",
      records: [
        ...records.map((record, i) => firehoseRecord(`r${i}`, JSON.stringify(record))),
        firehoseRecord("not-json", "{{{"),
        firehoseRecord("no-id", JSON.stringify({ eventName: "INSERT", dynamodb: {} })),
      ],
    });
    assert.deepEqual(
      result.records.map((r) => [r.recordId, r.result]),
      [
        ["r0", "Ok"],
        ["r1", "Dropped"],
        ["r2", "Ok"],
        ["r3", "Dropped"],
        ["r4", "Ok"],
        ["not-json", "ProcessingFailed"],
        ["no-id", "ProcessingFailed"],
      ],
    );
    for (const record of result.records.filter((r) => r.result === "Ok")) {
      const text = decode(record);
      assert.ok(text.endsWith("\n") && !text.slice(0, -1).includes("\n"));
      assert.deepEqual(Object.keys(JSON.parse(text)), [
        "eventId",
        "eventName",
        "flagName",
        "at",
        "actor",
        "version",
        "before",
        "after",
      ]);
    }
    assert.equal(decode(result.records[5]), "{{{", "a failed record keeps its original data for the error prefix");
    assert.equal(errors.length, 2);
  });
});

describe("audit transform with real evaluators-table stream records", () => {
  const records: DynamoDBRecord[] = [];
  const transform = makeAuditTransformHandler({ logger: { error: () => {} } });
  const isBeta = (record: DynamoDBRecord) => record.dynamodb?.Keys?.name?.S === "beta";

  before(async () => {
    records.push(
      ...(await captureStreamRecords(
        11,
        async (flags, evaluators) => {
          await evaluators.put("beta", { in: [{ var: "plan" }, ["beta"]] }, "admin");
          // A flag that references it moves its reference count only.
          await flags.create(
            {
              flagName: "uses-beta",
              value: "a",
              definition: {
                variants: { a: "a", b: "b" },
                defaultVariant: "a",
                targeting: { if: [{ $ref: "beta" }, "b"] },
              },
              refs: ["beta"],
            },
            "admin",
          );
          await evaluators.put("beta", { in: [{ var: "plan" }, ["beta", "pilot"]] }, "ci-bot");
          await flags.remove("uses-beta", "admin");
          await evaluators.remove("beta", "ci-bot");
        },
        "evaluators",
      )),
    );
  });

  it("turns an evaluator's create, replace and delete into created, updated, deleted lines — with actors and versions", () => {
    const lines = records.map(streamRecordToAuditLine).filter((line) => line !== undefined);
    assert.deepEqual(
      lines.map((l) => ["evaluatorName" in l ? l.evaluatorName : l.flagName, l.eventName, l.actor, l.version]),
      [
        ["beta", "created", "admin", 1],
        ["beta", "updated", "ci-bot", 2],
        ["beta", "deleted", "ci-bot", 2],
      ],
    );
  });

  it("carries the evaluator as before and after, without flagName or bookkeeping", () => {
    const [created, updated, deleted] = records
      .filter(isBeta)
      .map(evaluatorRecordToAuditLine)
      .filter((l) => l !== undefined);
    assert.deepEqual(Object.keys(created ?? {}), [
      "eventId",
      "eventName",
      "evaluatorName",
      "at",
      "actor",
      "version",
      "before",
      "after",
    ]);
    assert.equal(created?.before, null);
    assert.deepEqual(created?.after?.expression, { in: [{ var: "plan" }, ["beta"]] });
    assert.deepEqual(
      [updated?.before?.expression, updated?.after?.expression],
      [{ in: [{ var: "plan" }, ["beta"]] }, { in: [{ var: "plan" }, ["beta", "pilot"]] }],
    );
    assert.equal(updated?.at, updated?.after?.updatedAt);
    assert.deepEqual([deleted?.before?.version, deleted?.after], [2, null]);
    assert.ok(deleted !== undefined && updated !== undefined && deleted.at >= updated.at);
    for (const field of ["refCount", "usedByFlags", "deletedBy", "deletionId", "historyBase", "expressionJson"]) {
      assert.ok(!JSON.stringify([created, updated, deleted]).includes(field), field);
    }
  });

  it("drops what is no change of an evaluator: reference counts, the delete stamp, the flag-set version item", async () => {
    const result = await transform({
      invocationId: "i",
      deliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
      region: "eu-west-1",
      records: records.map((record, i) => firehoseRecord(`r${i}`, JSON.stringify(record))),
    });
    const kinds = records.map((record) => `${record.eventName} ${record.dynamodb?.Keys?.name?.S}`);
    const outcome = result.records.map((r, i) => `${kinds[i]}: ${r.result}`);
    assert.deepEqual(
      outcome.filter((line) => line.endsWith("Ok")),
      ["INSERT beta: Ok", "MODIFY beta: Ok", "REMOVE beta: Ok"],
    );
    assert.equal(outcome.filter((line) => line.endsWith("Dropped")).length, records.length - 3);
    assert.deepEqual(
      result.records.filter((r) => r.result === "Ok").map((r) => JSON.parse(decode(r)).eventName),
      ["created", "updated", "deleted"],
    );
  });
});
