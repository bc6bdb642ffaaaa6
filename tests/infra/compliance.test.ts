import { strict as assert } from "node:assert";
import { dataGrants, statementsOf } from "../support/policies";
import { ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

describe("Compliance (Pulumi mocks)", () => {
  let resources: RecordedResource[];

  before(async () => {
    resources = await runProgram();
  });

  it("watches every S3 bucket with the bucket-level public access managed rule", () => {
    const rule = single(resources, "aws:cfg/rule:Rule");
    assert.deepEqual(rule.inputs.source, {
      owner: "AWS",
      sourceIdentifier: "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
    });
    assert.deepEqual(rule.inputs.scope, { complianceResourceTypes: ["AWS::S3::Bucket"] });
  });

  it("remediates automatically with the AWS-owned automation, bounded attempts, on the offending bucket", () => {
    const rule = single(resources, "aws:cfg/rule:Rule");
    const fix = single(resources, "aws:cfg/remediationConfiguration:RemediationConfiguration");
    const role = single(resources, "aws:iam/role:Role", "-remediation");
    assert.equal(fix.inputs.configRuleName, rule.name);
    assert.equal(fix.inputs.targetType, "SSM_DOCUMENT");
    assert.equal(fix.inputs.targetId, "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock");
    assert.equal(fix.inputs.automatic, true);
    assert.equal(fix.inputs.maximumAutomaticAttempts, 5);
    assert.equal(fix.inputs.retryAttemptSeconds, 60);
    const parameters = Object.fromEntries(
      fix.inputs.parameters.map((p: { name: string; staticValue?: string; resourceValue?: string }) => [
        p.name,
        p.staticValue ?? `resource:${p.resourceValue}`,
      ]),
    );
    assert.deepEqual(parameters, {
      AutomationAssumeRole: `arn:aws:iam::123456789012:role/${role.name}`,
      BucketName: "resource:RESOURCE_ID",
      BlockPublicAcls: "true",
      IgnorePublicAcls: "true",
      BlockPublicPolicy: "true",
      RestrictPublicBuckets: "true",
    });
  });

  it("lets the automation role only read and set public access blocks, in this account", () => {
    const role = single(resources, "aws:iam/role:Role", "-remediation");
    assert.match(JSON.stringify(role.inputs.assumeRolePolicy), /ssm\.amazonaws\.com/);
    assert.deepEqual(dataGrants(single(resources, "aws:iam/rolePolicy:RolePolicy", "-remediation-policy")), [
      { actions: ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"], resources: ["arn:aws:s3:::*"] },
    ]);
    assert.deepEqual(
      ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.inputs.role === role.name),
      [],
    );
  });

  it("creates no recorder by default (an account has one per region)", () => {
    for (const type of [
      "aws:cfg/recorder:Recorder",
      "aws:cfg/deliveryChannel:DeliveryChannel",
      "aws:cfg/recorderStatus:RecorderStatus",
    ]) {
      assert.deepEqual(ofType(resources, type), [], type);
    }
  });

  describe("with createConfigRecorder", () => {
    let withRecorder: RecordedResource[];

    before(async () => {
      withRecorder = await runProgram({ createConfigRecorder: "true" });
    });

    it("records S3 buckets, delivers to an encrypted bucket and turns the recorder on", () => {
      const recorder = single(withRecorder, "aws:cfg/recorder:Recorder");
      assert.deepEqual(recorder.inputs.recordingGroup, { allSupported: false, resourceTypes: ["AWS::S3::Bucket"] });
      const channel = single(withRecorder, "aws:cfg/deliveryChannel:DeliveryChannel");
      const bucket = single(withRecorder, "aws:s3/bucket:Bucket", "-config-delivery");
      assert.equal(channel.inputs.s3BucketName, `${bucket.name}-bucket`);
      const encryption = ofType(
        withRecorder,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      ).find((e) => e.inputs.bucket === `${bucket.name}-id`);
      assert.equal(encryption?.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
      const status = single(withRecorder, "aws:cfg/recorderStatus:RecorderStatus");
      assert.equal(status.inputs.isEnabled, true);
      assert.equal(status.inputs.name, recorder.name);
    });

    it("lets the recorder write only its own prefix of the delivery bucket", () => {
      const bucket = single(withRecorder, "aws:s3/bucket:Bucket", "-config-delivery");
      const statements = statementsOf(
        single(withRecorder, "aws:iam/rolePolicy:RolePolicy", "-config-recorder-delivery"),
      );
      assert.deepEqual(
        statements.map((s) => [s.Action, s.Resource]),
        [
          [["s3:GetBucketAcl"], `arn:aws:s3:::${bucket.name}-bucket`],
          [["s3:PutObject"], `arn:aws:s3:::${bucket.name}-bucket/AWSLogs/123456789012/Config/*`],
        ],
      );
    });
  });
});
