import { strict as assert } from "node:assert";
import { roleNamed, roleStatements, simulate } from "../support/iam";
import { dataGrants, statementsOf } from "../support/policies";
import { ACCOUNT, ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

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

  it("watches every bucket by default: no bucket is excluded from the rule", () => {
    assert.equal(single(resources, "aws:cfg/rule:Rule").inputs.inputParameters, undefined);
  });

  describe("with publicBucketsAllowed", () => {
    const allowed = ["team-b-website", "Legacy_Bucket.example"];
    let scoped: RecordedResource[];

    before(async () => {
      scoped = await runProgram({ publicBucketsAllowed: JSON.stringify([...allowed, allowed[0]]) });
    });

    it("hands the buckets to the managed rule's excludedPublicBuckets parameter (CSV), once each", () => {
      const rule = single(scoped, "aws:cfg/rule:Rule");
      assert.deepEqual(JSON.parse(rule.inputs.inputParameters), { excludedPublicBuckets: allowed.join(",") });
    });

    it("denies the automation setting their public access block, even on a manual remediation (iam-simulate)", async () => {
      const fix = single(scoped, "aws:cfg/remediationConfiguration:RemediationConfiguration");
      const role = roleNamed(
        scoped,
        fix.inputs.parameters.find((p: { name: string }) => p.name === "AutomationAssumeRole").staticValue,
      );
      const put = (bucket: string) =>
        simulate(
          {
            principal: `arn:aws:iam::${ACCOUNT}:role/${role.name}`,
            action: "s3:PutBucketPublicAccessBlock",
            resource: `arn:aws:s3:::${bucket}`,
            context: { "aws:ResourceAccount": ACCOUNT },
          },
          { identity: roleStatements(scoped, role) },
        );
      for (const bucket of allowed) assert.equal(await put(bucket), "ExplicitlyDenied", bucket);
      assert.equal(await put("someone-elses-public-bucket"), "Allowed");
    });

    for (const [value, why] of [
      ['["a,b"]', "a comma would split the CSV into two names"],
      ['["my website"]', "a space is no bucket name"],
      ['[""]', "empty"],
      ['"team-b-website"', "a string, not an array"],
      [
        JSON.stringify(Array.from({ length: 20 }, (_, i) => `${"b".repeat(60)}-${i}`)),
        "over the rule's 1,024 characters",
      ],
    ]) {
      it(`refuses ${value.length > 40 ? `${value.slice(0, 40)}…` : value} (${why}) before anything is deployed`, async () => {
        await assert.rejects(runProgram({ publicBucketsAllowed: value }), /publicBucketsAllowed/);
      });
    }
  });

  describe("with autoRemediate false", () => {
    let reporting: RecordedResource[];

    before(async () => {
      reporting = await runProgram({ autoRemediate: "false" });
    });

    it("keeps the rule reporting, with the fix configured as a manual action only", () => {
      const rule = single(reporting, "aws:cfg/rule:Rule");
      assert.equal(rule.inputs.source.sourceIdentifier, "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED");
      const fix = single(reporting, "aws:cfg/remediationConfiguration:RemediationConfiguration");
      assert.equal(fix.inputs.configRuleName, rule.name);
      assert.equal(fix.inputs.automatic, false);
      assert.equal(fix.inputs.maximumAutomaticAttempts, undefined);
      assert.equal(fix.inputs.retryAttemptSeconds, undefined);
      assert.match(rule.inputs.description, /reported only/);
    });
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
