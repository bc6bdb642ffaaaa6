import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigRecorderCheck } from "./configRecorderCheck";
import { SecureBucket } from "./secureBucket";

/**
 * AWS Config managed rule: a bucket is compliant when its bucket-level public access block is
 * fully on. Chosen over S3_BUCKET_PUBLIC_READ_PROHIBITED because it flags a bucket as soon as it
 * *can* become public (before anything leaks), and the remediation below is exactly what makes it
 * compliant again, so rule and fix agree.
 */
export const PUBLIC_ACCESS_RULE = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED";
/** AWS-owned Systems Manager automation that turns a bucket's public access block on. */
export const REMEDIATION_DOCUMENT = "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock";

export interface ComplianceArgs {
  /**
   * Create a Config recorder (S3 buckets only) with its delivery channel. An account has one
   * recorder per region, so leave this off where one exists. Default false. Either way, preview
   * checks the account first and says what to change if the rule could not work.
   */
  createConfigRecorder?: boolean;
  /** Buckets meant to be public (e.g. a website), which the rule leaves alone. */
  excludedBuckets?: string[];
  /** Remediation attempts per non-compliant bucket. Default 5. */
  maximumAutomaticAttempts?: number;
  /** Seconds between attempts. Default 60. */
  retryAttemptSeconds?: number;
}

/**
 * Public buckets fixed automatically: an AWS Config rule over every S3 bucket in the account and
 * region, with automatic remediation that blocks public access on the offending bucket.
 */
export class Compliance extends pulumi.ComponentResource {
  readonly rule: aws.cfg.Rule;
  readonly remediationRole: aws.iam.Role;

  constructor(name: string, args: ComplianceArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:compliance:Compliance", name, {}, opts);
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;

    const createRecorder = (): pulumi.Resource[] => {
      const role = new aws.iam.Role(
        `${name}-config-recorder`,
        { assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "config.amazonaws.com" }) },
        { parent: this },
      );
      // AWS's read-only service-role policy for Config: what recording any resource type needs.
      new aws.iam.RolePolicyAttachment(
        `${name}-config-recorder-read`,
        { role: role.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole" },
        { parent: this },
      );
      const delivery = new SecureBucket(`${name}-config-delivery`, { expireAfterDays: 365 }, { parent: this });
      new aws.iam.RolePolicy(
        `${name}-config-recorder-delivery`,
        {
          role: role.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["s3:GetBucketAcl"], Resource: delivery.bucket.arn },
              {
                Effect: "Allow",
                Action: ["s3:PutObject"],
                Resource: pulumi.interpolate`${delivery.bucket.arn}/AWSLogs/${account}/Config/*`,
                Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control" } },
              },
            ],
          }),
        },
        { parent: this },
      );
      const recorder = new aws.cfg.Recorder(
        `${name}-recorder`,
        { roleArn: role.arn, recordingGroup: { allSupported: false, resourceTypes: ["AWS::S3::Bucket"] } },
        { parent: this },
      );
      const channel = new aws.cfg.DeliveryChannel(
        `${name}-delivery`,
        { s3BucketName: delivery.bucket.bucket },
        { parent: this, dependsOn: [recorder] },
      );
      const status = new aws.cfg.RecorderStatus(
        `${name}-recorder-status`,
        { name: recorder.name, isEnabled: true },
        { parent: this, dependsOn: [channel] },
      );
      return [status];
    };
    // Fails preview with what to do when the account has no recorder, one that does not record
    // S3 buckets, or (with createConfigRecorder) one already.
    const preflight = new ConfigRecorderCheck(
      `${name}-config-recorder-check`,
      {
        region: aws.getRegionOutput({}, { parent: this }).region,
        profile: new pulumi.Config("aws").get("profile"),
        createConfigRecorder: args.createConfigRecorder ?? false,
      },
      { parent: this },
    );
    const recorderReady = [preflight, ...(args.createConfigRecorder ? createRecorder() : [])];

    this.rule = new aws.cfg.Rule(
      `${name}-s3-public-access`,
      {
        description: "S3 buckets must block public access at bucket level; remediated automatically.",
        source: { owner: "AWS", sourceIdentifier: PUBLIC_ACCESS_RULE },
        scope: { complianceResourceTypes: ["AWS::S3::Bucket"] },
        ...(args.excludedBuckets === undefined || args.excludedBuckets.length === 0
          ? {}
          : { inputParameters: JSON.stringify({ excludedPublicBuckets: args.excludedBuckets.join(",") }) }),
      },
      { parent: this, dependsOn: recorderReady },
    );

    // What the automation may do: read and set public access blocks on this account's buckets.
    // Any bucket, by design: the rule watches them all.
    this.remediationRole = new aws.iam.Role(
      `${name}-remediation`,
      { assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ssm.amazonaws.com" }) },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-remediation-policy`,
      {
        role: this.remediationRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"],
              Resource: "arn:aws:s3:::*",
              Condition: { StringEquals: { "aws:ResourceAccount": account } },
            },
          ],
        }),
      },
      { parent: this },
    );

    const staticValue = (value: pulumi.Input<string>) => ({ staticValue: value });
    new aws.cfg.RemediationConfiguration(
      `${name}-s3-public-access-fix`,
      {
        configRuleName: this.rule.name,
        targetType: "SSM_DOCUMENT",
        targetId: REMEDIATION_DOCUMENT,
        automatic: true,
        maximumAutomaticAttempts: args.maximumAutomaticAttempts ?? 5,
        retryAttemptSeconds: args.retryAttemptSeconds ?? 60,
        parameters: [
          { name: "AutomationAssumeRole", ...staticValue(this.remediationRole.arn) },
          { name: "BucketName", resourceValue: "RESOURCE_ID" },
          { name: "BlockPublicAcls", ...staticValue("true") },
          { name: "IgnorePublicAcls", ...staticValue("true") },
          { name: "BlockPublicPolicy", ...staticValue("true") },
          { name: "RestrictPublicBuckets", ...staticValue("true") },
        ],
      },
      { parent: this },
    );

    this.registerOutputs({ ruleName: this.rule.name });
  }
}
