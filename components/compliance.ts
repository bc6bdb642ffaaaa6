import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigRecorderCheck } from "./configRecorderCheck";
import { SecureBucket } from "./secureBucket";
import { serviceTrustPolicy } from "./serviceTrust";

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
  /**
   * Buckets meant to be public (e.g. a website), which the rule reports compliant and the
   * remediation never touches (the stack's `publicBucketsAllowed`). Default none.
   */
  excludedBuckets?: string[];
  /**
   * Fix a non-compliant bucket automatically (the stack's `autoRemediate`). Default true. With
   * false the rule still reports, and the fix stays a manual action: nothing changes a bucket
   * until someone chooses "Remediate" for it in the Config console (or StartRemediationExecution).
   */
  autoRemediate?: boolean;
  /** Remediation attempts per non-compliant bucket. Default 5. */
  maximumAutomaticAttempts?: number;
  /** Seconds between attempts. Default 60. */
  retryAttemptSeconds?: number;
}

/** The rule's `excludedPublicBuckets` parameter is a CSV in a Config input of at most 1,024 characters. */
const INPUT_PARAMETERS_LIMIT = 1024;
/**
 * What any S3 bucket name can be, legacy us-east-1 names (capitals, underscores, up to 255)
 * included: a comma or a space would split or corrupt the rule's CSV parameter.
 */
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

/**
 * Public buckets reported, and by default fixed automatically: an AWS Config rule over every S3
 * bucket in the account and region (not only this stack's), with remediation that blocks public
 * access on the offending bucket. `excludedBuckets` are left alone by both.
 */
export class Compliance extends pulumi.ComponentResource {
  readonly rule: aws.cfg.Rule;
  readonly remediationRole: aws.iam.Role;

  constructor(name: string, args: ComplianceArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:compliance:Compliance", name, {}, opts);
    if (args.excludedBuckets !== undefined && !Array.isArray(args.excludedBuckets)) {
      throw new pulumi.ResourceError(
        `publicBucketsAllowed must be a JSON array of bucket names, e.g. ["my-website"], not ${JSON.stringify(args.excludedBuckets)}`,
        this,
      );
    }
    const excluded = [...new Set(args.excludedBuckets ?? [])];
    const invalid = excluded.filter((bucket) => typeof bucket !== "string" || !BUCKET_NAME.test(bucket));
    if (invalid.length > 0) {
      throw new pulumi.ResourceError(
        `publicBucketsAllowed must hold S3 bucket names; these are not: ${invalid.map((b) => JSON.stringify(b)).join(", ")}`,
        this,
      );
    }
    const inputParameters =
      excluded.length === 0 ? undefined : JSON.stringify({ excludedPublicBuckets: excluded.join(",") });
    if (inputParameters !== undefined && inputParameters.length > INPUT_PARAMETERS_LIMIT) {
      throw new pulumi.ResourceError(
        `publicBucketsAllowed is too long for the Config rule (${inputParameters.length} characters of parameters, AWS allows ${INPUT_PARAMETERS_LIMIT})`,
        this,
      );
    }
    const autoRemediate = args.autoRemediate ?? true;
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;

    const createRecorder = (): pulumi.Resource[] => {
      const role = new aws.iam.Role(
        `${name}-config-recorder`,
        // AWS Config's documented trust: only for this account's recorder.
        { assumeRolePolicy: serviceTrustPolicy({ service: "config.amazonaws.com", account }) },
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
        region,
        profile: new pulumi.Config("aws").get("profile"),
        createConfigRecorder: args.createConfigRecorder ?? false,
      },
      { parent: this },
    );
    const recorderReady = [preflight, ...(args.createConfigRecorder ? createRecorder() : [])];

    this.rule = new aws.cfg.Rule(
      `${name}-s3-public-access`,
      {
        description: `S3 buckets must block public access at bucket level; ${autoRemediate ? "remediated automatically" : "reported only (manual remediation)"}.`,
        source: { owner: "AWS", sourceIdentifier: PUBLIC_ACCESS_RULE },
        scope: { complianceResourceTypes: ["AWS::S3::Bucket"] },
        ...(inputParameters === undefined ? {} : { inputParameters }),
      },
      { parent: this, dependsOn: recorderReady },
    );

    // What the automation may do: read and set public access blocks on this account's buckets.
    // Any bucket, by design: the rule watches them all, but never an excluded one (a deny, so
    // not even a manual remediation started on it can lock it).
    // Systems Manager's documented trust for an Automation assume role: this account's executions.
    this.remediationRole = new aws.iam.Role(
      `${name}-remediation`,
      {
        assumeRolePolicy: serviceTrustPolicy({
          service: "ssm.amazonaws.com",
          account,
          sourceArn: pulumi.interpolate`arn:aws:ssm:${region}:${account}:automation-execution/*`,
        }),
      },
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
            ...(excluded.length === 0
              ? []
              : [
                  {
                    Sid: "LeaveAllowedPublicBucketsAlone",
                    Effect: "Deny",
                    Action: ["s3:PutBucketPublicAccessBlock"],
                    Resource: excluded.map((bucket) => `arn:aws:s3:::${bucket}`),
                  },
                ]),
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
        automatic: autoRemediate,
        ...(autoRemediate
          ? {
              maximumAutomaticAttempts: args.maximumAutomaticAttempts ?? 5,
              retryAttemptSeconds: args.retryAttemptSeconds ?? 60,
            }
          : {}),
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

    this.registerOutputs({ ruleName: this.rule.name, autoRemediate });
  }
}
