import { strict as assert } from "node:assert";
import { READ_LOG_FILTER_PATTERN } from "../../handlers/audit/reads";
import { roleNamed, roleStatements, trustPolicy } from "../support/iam";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

describe("AuditPipeline: read lines from the REST access logs (Pulumi mocks)", () => {
  let resources: RecordedResource[];

  before(async () => {
    resources = await runProgram();
  });

  const filter = () => single(resources, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", "-audit-reads");

  it("subscribes the audit delivery stream to the REST stage's access log group, successful flag reads only", () => {
    const stage = single(resources, "aws:apigateway/stage:Stage");
    const accessLogs = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").find(
      (group) =>
        `arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/${group.name}` ===
        stage.inputs.accessLogSettings.destinationArn,
    );
    assert.ok(accessLogs, "the stage's access log group is one of the program's");
    const stream = single(resources, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream");
    assert.equal(filter().inputs.logGroup, `/aws/lambda/${accessLogs.name}`);
    assert.equal(
      filter().inputs.destinationArn,
      `arn:aws:firehose:eu-west-1:123456789012:deliverystream/${stream.name}`,
    );
    assert.equal(filter().inputs.filterPattern, READ_LOG_FILTER_PATTERN);
    assert.equal(ofType(resources, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter").length, 1);
  });

  it("delivers with a role only CloudWatch Logs may assume, for this account's logs, that may only put records to that stream", () => {
    const role = roleNamed(resources, filter().inputs.roleArn);
    const [trust] = trustPolicy(role).Statement;
    assert.deepEqual(trust.Principal, { Service: "logs.amazonaws.com" });
    assert.deepEqual(trust.Condition, {
      ArnLike: { "aws:SourceArn": "arn:aws:logs:eu-west-1:123456789012:*" },
      StringEqualsIfExists: { "aws:SourceAccount": "123456789012" },
    });
    assert.deepEqual(roleStatements(resources, role), [
      { Effect: "Allow", Action: ["firehose:PutRecord"], Resource: filter().inputs.destinationArn },
    ]);
  });
});
