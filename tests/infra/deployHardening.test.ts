import { strict as assert } from "node:assert";
import type * as pulumi from "@pulumi/pulumi";
import { FANOUT_CONCURRENCY, STREAM_CONSUMER } from "../../handlers/realtime/table";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

/** A resource's options as the component gave them (mocks do not see options; transformations do). */
interface Registered {
  type: string;
  name: string;
  opts: pulumi.CustomResourceOptions;
}

const urnOf = (resource: pulumi.Resource) => new Promise<string>((resolve) => resource.urn.apply(resolve));

describe("Deploy hardening (Pulumi mocks)", () => {
  let resources: RecordedResource[];
  const registered: Registered[] = [];

  before(async () => {
    resources = await runProgram();
    // The audit pipeline again, with a transformation that sees every child's options.
    const { AuditPipeline } = await import("../../components/auditPipeline");
    new AuditPipeline(
      "probe",
      {
        flagsTable: {
          arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
          streamArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x",
        },
      },
      {
        transformations: [
          (args) => {
            registered.push({ type: args.type, name: args.name, opts: args.opts as pulumi.CustomResourceOptions });
            return undefined;
          },
        ],
      },
    );
  });

  it("keeps the retained audit bucket's encryption, public access block, TLS policy, versioning and lifecycle on destroy", () => {
    const children = registered.filter((r) => r.type.startsWith("aws:s3/") && r.name.startsWith("probe-audit"));
    assert.deepEqual(children.map((r) => r.type).sort(), [
      "aws:s3/bucket:Bucket",
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "aws:s3/bucketPolicy:BucketPolicy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "aws:s3/bucketVersioning:BucketVersioning",
    ]);
    for (const child of children) assert.equal(child.opts.retainOnDelete, true, `${child.type} is retained`);
    const results = registered.filter((r) => r.type.startsWith("aws:s3/") && r.name.startsWith("probe-athena-results"));
    for (const child of results) assert.notEqual(child.opts.retainOnDelete, true, "query results are not kept");
  });

  it("creates the delivery stream only once its role's policy exists (Firehose checks access at creation)", async () => {
    const stream = registered.find((r) => r.type === "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream");
    assert.ok(stream);
    const dependsOn = [stream.opts.dependsOn ?? []].flat() as pulumi.Resource[];
    const urns = await Promise.all(dependsOn.map(urnOf));
    assert.ok(
      urns.some((urn) => urn.endsWith("::probe-firehose-policy")),
      urns.join(", "),
    );
  });

  it("integrates every WebSocket route with POST, as Lambda proxy integrations require", () => {
    const integrations = ofType(resources, "aws:apigatewayv2/integration:Integration");
    assert.ok(integrations.length >= 3);
    for (const integration of integrations) {
      assert.equal(integration.inputs.integrationType, "AWS_PROXY");
      assert.equal(integration.inputs.integrationMethod, "POST", integration.name);
    }
  });

  it("gives each stream consumer time for a full batch fanned out to 1,000 connections at 50 ms a post", () => {
    // 100 records × 1,000 connections × 50 ms, FANOUT_CONCURRENCY posts in flight.
    const budgetSeconds = (STREAM_CONSUMER.batchSize * 1000 * 0.05) / FANOUT_CONCURRENCY;
    for (const mapping of ofType(resources, "aws:lambda/eventSourceMapping:EventSourceMapping")) {
      const fn = single(resources, "aws:lambda/function:Function", mapping.inputs.functionName);
      assert.ok(fn.inputs.timeout >= 2 * budgetSeconds, `${fn.name}: ${fn.inputs.timeout} s < 2 × ${budgetSeconds} s`);
      assert.ok(fn.inputs.timeout <= 900, "Lambda's limit");
    }
  });
});
