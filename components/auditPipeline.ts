import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { READ_LOG_FILTER_PATTERN } from "../handlers/audit/reads";
import { auditTransformEntrypoint } from "../handlers/entrypoints";
import { EVALUATORS_FILTER, FLAGS_STREAM_FILTERS, STREAM_CONSUMER } from "../handlers/realtime/table";
import { SecureBucket } from "./secureBucket";
import { serviceTrustPolicy } from "./serviceTrust";
import { ServiceFunction } from "./serviceFunction";
import { deadLetterQueue as createDeadLetterQueue, streamReadStatements } from "./streamConsumer";

/** Where Firehose writes audit lines (UTC arrival hour), and where it writes what it could not. */
export const AUDIT_PREFIX =
  "audit/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/";
export const AUDIT_ERROR_PREFIX =
  "audit-errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/";

/**
 * The audit table's partitions, projected (no crawler): the year from 2025 (no audit line is
 * older) up to the current one (`NOW`), months, days and hours as the Firehose prefix writes them.
 * A query without a date filter considers 12 × 31 × 24 = 8,928 hourly partitions per year since
 * 2025, not every hour until 2100.
 */
export const AUDIT_FIRST_YEAR = 2025;
export const AUDIT_PROJECTION: Readonly<Record<string, string>> = {
  "projection.enabled": "true",
  "projection.year.type": "date",
  "projection.year.format": "yyyy",
  "projection.year.range": `${AUDIT_FIRST_YEAR},NOW`,
  "projection.year.interval": "1",
  "projection.year.interval.unit": "YEARS",
  "projection.month.type": "integer",
  "projection.month.range": "1,12",
  "projection.month.digits": "2",
  "projection.day.type": "integer",
  "projection.day.range": "1,31",
  "projection.day.digits": "2",
  "projection.hour.type": "integer",
  "projection.hour.range": "0,23",
  "projection.hour.digits": "2",
};

/** The Athena table's columns: the audit line's fields (JSON keys match case-insensitively). */
export const AUDIT_COLUMNS = [
  { name: "eventid", type: "string" },
  { name: "eventname", type: "string" },
  { name: "flagname", type: "string" },
  // Lines about a shared evaluator name it here instead of flagname.
  { name: "evaluatorname", type: "string" },
  { name: "at", type: "string" },
  { name: "actor", type: "string" },
  { name: "version", type: "int" },
  // The images as JSON text: a flag's value can be any JSON, which no fixed struct describes.
  { name: "before", type: "string" },
  { name: "after", type: "string" },
];

export interface AuditPipelineArgs {
  /** The flags table: its stream is the source of every flag change's audit line (reads come from `readLogGroup`). */
  flagsTable: { arn: pulumi.Input<string>; streamArn: pulumi.Input<string> };
  /**
   * The evaluators table: its stream is the source of the shared evaluators' audit lines, in the
   * same trail. Default: none (flag changes only).
   */
  evaluatorsTable?: { arn: pulumi.Input<string>; streamArn: pulumi.Input<string> };
  /**
   * The REST stage's access log group: a subscription filter delivers its successful
   * `GET /flags/{flagName}` lines to the delivery stream, whose processor makes them `read` lines
   * (a read writes nothing to the table). Default: none (no `read` lines).
   */
  readLogGroup?: { name: pulumi.Input<string> };
  /** Days after which audit objects expire. Default 365. */
  retentionDays?: number;
  /** Retention of the transform function's log group, in days. Default 30. */
  logRetentionDays?: number;
}

/**
 * Who changed what, when, from what to what: every create, update, delete and read of a flag, and
 * every create, update and delete of a shared evaluator, as one JSON line in S3, queryable with
 * Athena. Each table's stream reaches Firehose through an EventBridge Pipe (no code to run:
 * retries, bisection and a dead-letter queue come built in), filtered so that a stamp is no event;
 * reads reach it from the REST access logs through a subscription filter. A Lambda processor turns
 * each stream record into its audit line, and each batch of access log events into `read` lines.
 */
export class AuditPipeline extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly deliveryStream: aws.kinesis.FirehoseDeliveryStream;
  readonly transform: ServiceFunction;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly database: aws.glue.CatalogDatabase;
  readonly table: aws.glue.CatalogTable;
  readonly workgroup: aws.athena.Workgroup;
  readonly auditBucketName: pulumi.Output<string>;

  constructor(name: string, args: AuditPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:audit:AuditPipeline", name, {}, opts);
    const retentionDays = args.retentionDays ?? 365;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new pulumi.ResourceError(
        `auditRetentionDays must be a whole number of days ≥ 1, not ${retentionDays}`,
        this,
      );
    }

    // Versioned, and left in place by `pulumi destroy` (retainOnDelete): an audit trail must
    // outlive the stack that wrote it. Delete it by hand if you really mean to. An expired line's
    // version goes a day after it expires, and so does one deleted or overwritten by hand (the
    // window to recover it): audit data lives about retentionDays + 1 days, then its delete
    // marker goes too.
    const audit = new SecureBucket(
      `${name}-audit`,
      { versioning: true, expireAfterDays: retentionDays, retainOnDelete: true },
      { parent: this },
    );
    const results = new SecureBucket(
      `${name}-athena-results`,
      { expireAfterDays: 30, forceDestroy: true },
      { parent: this },
    );

    const transform = new ServiceFunction(
      `${name}-audit-transform`,
      {
        description: "Turns DynamoDB stream records and REST access log events into audit lines for Firehose",
        callbackFactory: auditTransformEntrypoint,
        statements: [],
        logRetentionDays: args.logRetentionDays ?? 30,
        memorySize: 256,
        // Firehose waits at most 5 minutes for a processor; a batch is small work.
        timeout: 60,
      },
      { parent: this },
    );

    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    // Only for this account's streams and pipes of this pipeline. The ARNs are patterns of the
    // names Pulumi gives them (`<name>-<suffix>`): a stream and a pipe need the role before they
    // exist. Firehose's documented trust names the account as sts:ExternalId.
    const firehoseRole = new aws.iam.Role(
      `${name}-firehose`,
      {
        assumeRolePolicy: serviceTrustPolicy({
          service: "firehose.amazonaws.com",
          account,
          sourceArn: pulumi.interpolate`arn:aws:firehose:${region}:${account}:deliverystream/${name}-audit*`,
          keys: "external-id",
        }),
      },
      { parent: this },
    );
    const firehosePolicy = new aws.iam.RolePolicy(
      `${name}-firehose-policy`,
      {
        role: firehoseRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
              Resource: audit.bucket.arn,
            },
            {
              Effect: "Allow",
              Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
              Resource: [
                pulumi.interpolate`${audit.bucket.arn}/audit/*`,
                pulumi.interpolate`${audit.bucket.arn}/audit-errors/*`,
              ],
            },
            {
              Effect: "Allow",
              Action: ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
              Resource: transform.function.arn,
            },
          ],
        }),
      },
      { parent: this },
    );

    const deliveryStream = new aws.kinesis.FirehoseDeliveryStream(
      `${name}-audit`,
      {
        destination: "extended_s3",
        serverSideEncryption: { enabled: true, keyType: "AWS_OWNED_CMK" },
        extendedS3Configuration: {
          roleArn: firehoseRole.arn,
          bucketArn: audit.bucket.arn,
          prefix: AUDIT_PREFIX,
          errorOutputPrefix: AUDIT_ERROR_PREFIX,
          // A minute or 5 MB, whichever first: lines are queryable about a minute after a change.
          bufferingInterval: 60,
          bufferingSize: 5,
          // Plain NDJSON: Athena reads it as is; `aws s3 cp … - | jq` works without gunzip.
          compressionFormat: "UNCOMPRESSED",
          processingConfiguration: {
            enabled: true,
            processors: [
              {
                type: "Lambda",
                parameters: [
                  // Exactly the ARN the Firehose role may invoke: Lambda refuses a qualified invoke
                  // (e.g. `:$LATEST`) that the caller's policy does not name.
                  { parameterName: "LambdaArn", parameterValue: transform.function.arn },
                  { parameterName: "BufferSizeInMBs", parameterValue: "1" },
                  { parameterName: "BufferIntervalInSeconds", parameterValue: "60" },
                ],
              },
            ],
          },
        },
      },
      // Firehose checks at creation that its role can reach the bucket and the processor.
      { parent: this, dependsOn: [firehosePolicy] },
    );

    const deadLetterQueue = createDeadLetterQueue(`${name}-audit-dlq`, this);
    const pipeRole = new aws.iam.Role(
      `${name}-audit-pipe`,
      {
        assumeRolePolicy: serviceTrustPolicy({
          service: "pipes.amazonaws.com",
          account,
          sourceArn: pulumi.interpolate`arn:aws:pipes:${region}:${account}:pipe/${name}-audit*`,
        }),
      },
      { parent: this },
    );
    const pipePolicy = new aws.iam.RolePolicy(
      `${name}-audit-pipe-policy`,
      {
        role: pipeRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            ...streamReadStatements(
              args.flagsTable.streamArn,
              ...(args.evaluatorsTable === undefined ? [] : [args.evaluatorsTable.streamArn]),
            ),
            {
              Effect: "Allow",
              Action: ["firehose:PutRecord", "firehose:PutRecordBatch"],
              Resource: deliveryStream.arn,
            },
            { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: deadLetterQueue.arn },
          ],
        }),
      },
      { parent: this },
    );
    const createPipe = (pipeName: string, source: pulumi.Input<string>, filters: readonly object[]) =>
      new aws.pipes.Pipe(
        pipeName,
        {
          roleArn: pipeRole.arn,
          source,
          target: deliveryStream.arn,
          sourceParameters: {
            dynamodbStreamParameters: {
              startingPosition: "TRIM_HORIZON",
              batchSize: STREAM_CONSUMER.batchSize,
              maximumBatchingWindowInSeconds: 1,
              maximumRetryAttempts: STREAM_CONSUMER.maximumRetryAttempts,
              onPartialBatchItemFailure: "AUTOMATIC_BISECT",
              deadLetterConfig: { arn: deadLetterQueue.arn },
            },
            filterCriteria: { filters: filters.map((pattern) => ({ pattern: JSON.stringify(pattern) })) },
          },
        },
        { parent: this, dependsOn: [pipePolicy] },
      );
    // Changes only: a read's or an evaluation's stamp is no Pipe event and no Firehose record
    // (the local runtime's poller applies the same filters).
    createPipe(`${name}-audit`, args.flagsTable.streamArn, FLAGS_STREAM_FILTERS);
    // Evaluator items only: the flag-set version item every write bumps is no event (the local
    // runtime's poller applies the same filter).
    if (args.evaluatorsTable !== undefined) {
      createPipe(`${name}-audit-evaluators`, args.evaluatorsTable.streamArn, [EVALUATORS_FILTER]);
    }

    if (args.readLogGroup !== undefined) {
      this.readSubscription(name, args.readLogGroup.name, deliveryStream, account, region);
    }

    const database = new aws.glue.CatalogDatabase(
      `${name}-audit-db`,
      { name: `${name.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_audit` },
      { parent: this },
    );
    const location = pulumi.interpolate`s3://${audit.bucket.bucket}/audit/`;
    const table = new aws.glue.CatalogTable(
      `${name}-audit-table`,
      {
        name: "audit",
        databaseName: database.name,
        tableType: "EXTERNAL_TABLE",
        parameters: {
          classification: "json",
          // Partition projection: Athena computes partitions from the key layout; no crawler.
          ...AUDIT_PROJECTION,
          "storage.location.template": pulumi.interpolate`${location}year=\${year}/month=\${month}/day=\${day}/hour=\${hour}/`,
        },
        partitionKeys: ["year", "month", "day", "hour"].map((key) => ({ name: key, type: "string" })),
        storageDescriptor: {
          location,
          inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
          outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
          serDeInfo: {
            serializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
            parameters: { "case.insensitive": "true", "ignore.malformed.json": "true" },
          },
          columns: AUDIT_COLUMNS,
        },
      },
      { parent: this },
    );
    const workgroup = new aws.athena.Workgroup(
      `${name}-audit`,
      {
        name: `${name}-audit`,
        forceDestroy: true,
        configuration: {
          enforceWorkgroupConfiguration: true,
          publishCloudwatchMetricsEnabled: true,
          resultConfiguration: {
            outputLocation: pulumi.interpolate`s3://${results.bucket.bucket}/results/`,
            encryptionConfiguration: { encryptionOption: "SSE_S3" },
          },
        },
      },
      { parent: this },
    );

    this.bucket = audit.bucket;
    this.deliveryStream = deliveryStream;
    this.transform = transform;
    this.deadLetterQueue = deadLetterQueue;
    this.database = database;
    this.table = table;
    this.workgroup = workgroup;
    this.auditBucketName = audit.bucket.bucket;
    this.registerOutputs({
      auditBucketName: this.auditBucketName,
      athenaWorkgroup: workgroup.name,
      auditTable: pulumi.interpolate`${database.name}.${table.name}`,
    });
  }

  /**
   * Reads from the access logs: CloudWatch Logs passes the log group's successful reads of a flag
   * (READ_LOG_FILTER_PATTERN) to the delivery stream, with a role that may put records to it only,
   * and that CloudWatch Logs may assume only for this account's log groups (the trust AWS documents
   * for a subscription to Firehose names the account's log ARNs as `aws:SourceArn`).
   */
  private readSubscription(
    name: string,
    logGroupName: pulumi.Input<string>,
    deliveryStream: aws.kinesis.FirehoseDeliveryStream,
    account: pulumi.Input<string>,
    region: pulumi.Input<string>,
  ): aws.cloudwatch.LogSubscriptionFilter {
    const role = new aws.iam.Role(
      `${name}-audit-reads`,
      {
        assumeRolePolicy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "logs.amazonaws.com" },
              Action: "sts:AssumeRole",
              Condition: {
                ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:aws:logs:${region}:${account}:*` },
                // Not among the keys AWS documents for this trust: checked whenever it is sent.
                StringEqualsIfExists: { "aws:SourceAccount": account },
              },
            },
          ],
        }),
      },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(
      `${name}-audit-reads-policy`,
      {
        role: role.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: ["firehose:PutRecord"], Resource: deliveryStream.arn }],
        }),
      },
      { parent: this },
    );
    // CloudWatch Logs checks at creation that it can put a test record (a CONTROL_MESSAGE, which
    // the processor drops) with the role.
    return new aws.cloudwatch.LogSubscriptionFilter(
      `${name}-audit-reads`,
      {
        logGroup: logGroupName,
        filterPattern: READ_LOG_FILTER_PATTERN,
        destinationArn: deliveryStream.arn,
        roleArn: role.arn,
      },
      { parent: this, dependsOn: [policy] },
    );
  }
}
