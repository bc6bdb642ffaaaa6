import { strict as assert } from "node:assert";
import { AUDIT_PREFIX } from "../../components/auditPipeline";
import { dataGrants } from "../support/policies";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

describe("AuditPipeline (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  const auditBucket = () => single(resources, "aws:s3/bucket:Bucket", "-audit");
  const forBucket = (type: string) =>
    ofType(resources, type).filter((r) => r.inputs.bucket === `${auditBucket().name}-id`);
  const stream = () => single(resources, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream");

  before(async () => {
    resources = await runProgram({ auditRetentionDays: "400" });
  });

  it("keeps audit objects versioned, encrypted, private, TLS-only, expiring after auditRetentionDays", () => {
    assert.equal(
      forBucket("aws:s3/bucketVersioning:BucketVersioning")[0]?.inputs.versioningConfiguration.status,
      "Enabled",
    );
    const [lifecycle] = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
    assert.equal(lifecycle.inputs.rules[0].expiration.days, 400);
    assert.equal(forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").length, 1);
    assert.equal(forBucket("aws:s3/bucketPolicy:BucketPolicy").length, 1);
    assert.equal(
      forBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").length,
      1,
    );
  });

  it("keeps an audit line about auditRetentionDays + 1 days: the expired version a day, then its delete marker goes", () => {
    const [lifecycle] = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
    const rules: Array<Record<string, any>> = lifecycle.inputs.rules;
    assert.ok(rules.every((rule) => rule.status === "Enabled" && JSON.stringify(rule.filter) === "{}"));
    const expire = rules.find((rule) => rule.expiration?.days !== undefined);
    assert.equal(expire?.expiration.days, 400);
    // Expired (or deleted, or overwritten) versions: one day to recover them, not another 400.
    assert.deepEqual(expire?.noncurrentVersionExpiration, { noncurrentDays: 1 });
    assert.deepEqual(expire?.abortIncompleteMultipartUpload, { daysAfterInitiation: 1 });
    // The delete marker an expiry leaves, once its last version is gone (a rule of its own: S3
    // refuses ExpiredObjectDeleteMarker next to Days).
    const markers = rules.filter((rule) => rule.expiration?.expiredObjectDeleteMarker === true);
    assert.equal(markers.length, 1);
    assert.equal(markers[0].expiration.days, undefined);
    assert.equal(rules.length, 2, "expiry, and removal of expired delete markers: nothing else");
  });

  it("projects the audit table by date up to NOW: years 2025 to the current one, months, days, hours", () => {
    const parameters = single(resources, "aws:glue/catalogTable:CatalogTable").inputs.parameters;
    assert.equal(parameters["projection.year.type"], "date");
    assert.equal(parameters["projection.year.range"], "2025,NOW");
    assert.equal(parameters["projection.year.format"], "yyyy");
    assert.equal(parameters["projection.year.interval"], "1");
    assert.equal(parameters["projection.year.interval.unit"], "YEARS");
    // The same values Firehose writes into the keys, so `year='2026' AND month='11'` still finds them.
    assert.match(
      AUDIT_PREFIX,
      /^audit\/year=!\{timestamp:yyyy\}\/month=!\{timestamp:MM\}\/day=!\{timestamp:dd\}\/hour=!\{timestamp:HH\}\/$/,
    );
    for (const [key, range] of [
      ["month", "1,12"],
      ["day", "1,31"],
      ["hour", "0,23"],
    ]) {
      assert.equal(parameters[`projection.${key}.type`], "integer", key);
      assert.equal(parameters[`projection.${key}.range`], range, key);
      assert.equal(parameters[`projection.${key}.digits`], "2", key);
    }
    // No key ends in the far future: only the year grows, and only as time passes.
    const ranges = Object.entries<string>(parameters).filter(([name]) => name.endsWith(".range"));
    assert.deepEqual(ranges.map(([, range]) => range.split(",")[1]).sort(), ["12", "23", "31", "NOW"]);
  });

  it("delivers the flags table stream to Firehose through a Pipe with retries and a dead-letter queue", () => {
    const pipe = single(resources, "aws:pipes/pipe:Pipe", "-audit");
    const flags = single(resources, "aws:dynamodb/table:Table", "-flags");
    const dlq = single(resources, "aws:sqs/queue:Queue", "-audit-dlq");
    assert.match(pipe.inputs.source, new RegExp(`table/${flags.name}/stream/`));
    assert.equal(pipe.inputs.target, `arn:aws:firehose:eu-west-1:123456789012:deliverystream/${stream().name}`);
    const source = pipe.inputs.sourceParameters.dynamodbStreamParameters;
    assert.equal(source.onPartialBatchItemFailure, "AUTOMATIC_BISECT");
    assert.equal(source.maximumRetryAttempts, 5);
    assert.equal(source.deadLetterConfig.arn, `arn:aws:sqs:eu-west-1:123456789012:${dlq.name}`);
    assert.equal(dlq.inputs.sqsManagedSseEnabled, true);
    // Changes only: a stamp is no Pipe event and no Firehose record (tests/handlers/streamFilters.test.ts).
    assert.deepEqual(
      pipe.inputs.sourceParameters.filterCriteria.filters.map((f: { pattern: string }) => JSON.parse(f.pattern)),
      [
        { eventName: ["INSERT", "REMOVE"] },
        { eventName: ["MODIFY"], dynamodb: { NewImage: { stamp: { S: [{ exists: false }] } } } },
      ],
    );
  });

  it("delivers the evaluators table stream to the same delivery stream, without the flag-set version item", () => {
    const pipe = single(resources, "aws:pipes/pipe:Pipe", "-audit-evaluators");
    const flagsPipe = single(resources, "aws:pipes/pipe:Pipe", "-audit");
    const evaluators = single(resources, "aws:dynamodb/table:Table", "-evaluators");
    assert.match(pipe.inputs.source, new RegExp(`table/${evaluators.name}/stream/`));
    assert.equal(pipe.inputs.target, flagsPipe.inputs.target);
    assert.deepEqual(
      pipe.inputs.sourceParameters.dynamodbStreamParameters,
      flagsPipe.inputs.sourceParameters.dynamodbStreamParameters,
    );
    const [filter] = pipe.inputs.sourceParameters.filterCriteria.filters;
    assert.deepEqual(JSON.parse(filter.pattern), {
      dynamodb: { Keys: { name: { S: [{ "anything-but": ["$flagset"] }] } } },
    });
  });

  it("writes under the hourly audit prefix, failures under an error prefix, through the Lambda processor", () => {
    const s3 = stream().inputs.extendedS3Configuration;
    const transform = single(resources, "aws:lambda/function:Function", "-audit-transform");
    assert.equal(stream().inputs.destination, "extended_s3");
    assert.equal(stream().inputs.serverSideEncryption.enabled, true);
    assert.equal(s3.bucketArn, `arn:aws:s3:::${auditBucket().name}-bucket`);
    assert.equal(
      s3.prefix,
      "audit/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
    );
    assert.match(s3.errorOutputPrefix, /^audit-errors\/!\{firehose:error-output-type\}\//);
    assert.equal(s3.compressionFormat, "UNCOMPRESSED");
    assert.equal(s3.bufferingInterval, 60);
    const [processor] = s3.processingConfiguration.processors;
    assert.equal(processor.type, "Lambda");
    assert.equal(
      processor.parameters.find((p: { parameterName: string }) => p.parameterName === "LambdaArn").parameterValue,
      `arn:aws:lambda:eu-west-1:123456789012:function:${transform.name}`,
      "unqualified, as the Firehose role's policy names it (tests/artifact/wiring proves the invoke is allowed)",
    );
  });

  it("defines an Athena table over the audit prefix with the JSON SerDe and partition projection", () => {
    const table = single(resources, "aws:glue/catalogTable:CatalogTable");
    const database = single(resources, "aws:glue/catalogDatabase:CatalogDatabase");
    assert.equal(table.inputs.name, "audit");
    assert.equal(table.inputs.databaseName, database.inputs.name);
    assert.match(database.inputs.name, /^[a-z0-9_]+$/);
    const location = `s3://${auditBucket().name}-bucket/audit/`;
    assert.equal(table.inputs.storageDescriptor.location, location);
    assert.equal(table.inputs.storageDescriptor.serDeInfo.serializationLibrary, "org.openx.data.jsonserde.JsonSerDe");
    assert.deepEqual(
      table.inputs.storageDescriptor.columns.map((c: { name: string }) => c.name),
      ["eventid", "eventname", "flagname", "evaluatorname", "at", "actor", "version", "before", "after"],
    );
    assert.deepEqual(
      table.inputs.partitionKeys.map((k: { name: string }) => k.name),
      ["year", "month", "day", "hour"],
    );
    assert.equal(table.inputs.parameters["projection.enabled"], "true");
    assert.equal(
      table.inputs.parameters["storage.location.template"],
      `${location}year=\${year}/month=\${month}/day=\${day}/hour=\${hour}/`,
    );
    assert.equal(table.inputs.parameters["projection.hour.digits"], "2");
  });

  it("gives Athena a workgroup with an enforced, encrypted results location", () => {
    const workgroup = single(resources, "aws:athena/workgroup:Workgroup");
    const results = single(resources, "aws:s3/bucket:Bucket", "-athena-results");
    const config = workgroup.inputs.configuration;
    assert.equal(config.enforceWorkgroupConfiguration, true);
    assert.equal(config.resultConfiguration.outputLocation, `s3://${results.name}-bucket/results/`);
    assert.equal(config.resultConfiguration.encryptionConfiguration.encryptionOption, "SSE_S3");
  });

  it("lets Firehose write only the audit prefixes and invoke only the transform", () => {
    const bucketArn = `arn:aws:s3:::${auditBucket().name}-bucket`;
    const transform = single(resources, "aws:lambda/function:Function", "-audit-transform");
    assert.deepEqual(dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", "-firehose-policy")), [
      { actions: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [bucketArn] },
      {
        actions: ["s3:AbortMultipartUpload", "s3:PutObject"],
        resources: [`${bucketArn}/audit/*`, `${bucketArn}/audit-errors/*`],
      },
      {
        actions: ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
        resources: [`arn:aws:lambda:eu-west-1:123456789012:function:${transform.name}`],
      },
    ]);
  });

  it("lets the Pipes read the two streams and put records to this delivery stream only; the transform needs no access", () => {
    const grants = dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", "-audit-pipe-policy"));
    const streamOf = (suffix: string) => single(resources, "aws:pipes/pipe:Pipe", suffix).inputs.source;
    assert.deepEqual(grants.find((g) => g.actions.includes("dynamodb:GetRecords"))?.resources, [
      streamOf("-audit"),
      streamOf("-audit-evaluators"),
    ]);
    assert.deepEqual(
      grants.find((g) => g.actions.includes("firehose:PutRecordBatch")),
      {
        actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
        resources: [`arn:aws:firehose:eu-west-1:123456789012:deliverystream/${stream().name}`],
      },
    );
    assert.deepEqual(dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", "-audit-transform-policy")), []);
  });
});
