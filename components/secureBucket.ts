import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Days an expired, overwritten or deleted version of a versioned bucket's object is kept. */
export const NONCURRENT_VERSION_DAYS = 1;
/** Days before S3 aborts a multipart upload that never completed (its parts are billed until then). */
export const INCOMPLETE_UPLOAD_DAYS = 1;

export interface SecureBucketArgs {
  /** Days after which objects expire; omitted keeps them. */
  expireAfterDays?: pulumi.Input<number>;
  /** Keep object versions (recover from overwrites and deletes). Default false. */
  versioning?: boolean;
  /**
   * With versioning and `expireAfterDays`: days a version is kept once it is no longer current
   * (overwritten, deleted or expired), the window to recover it. Default
   * `NONCURRENT_VERSION_DAYS`: data lives about `expireAfterDays` + this, not twice as long.
   */
  noncurrentVersionDays?: number;
  /** Extra bucket-policy statements (e.g. a service's write access), added to the TLS-only deny. */
  policyStatements?: pulumi.Input<aws.iam.PolicyStatement>[];
  /** Let `pulumi destroy` delete a bucket that still holds objects. Default false. */
  forceDestroy?: boolean;
  /**
   * Leave the bucket (and its data) in AWS when the stack is destroyed, with its encryption,
   * public access block, TLS-only policy, versioning and lifecycle intact. Default false.
   */
  retainOnDelete?: boolean;
}

/**
 * An S3 bucket that cannot become public or be read over plain HTTP: encryption at rest, every
 * public access block setting on, a policy that denies non-TLS requests, optional versioning and
 * expiry. Every bucket the program creates is one of these.
 */
export class SecureBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly publicAccessBlock: aws.s3.BucketPublicAccessBlock;

  constructor(name: string, args: SecureBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:storage:SecureBucket", name, {}, opts);
    // Every child shares the bucket's fate: a retained bucket whose public access block, policy or
    // versioning were deleted on destroy would be left unprotected (or with versioning suspended).
    const child = { parent: this, retainOnDelete: args.retainOnDelete ?? false };
    const bucket = new aws.s3.Bucket(name, { forceDestroy: args.forceDestroy ?? false }, child);
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
      },
      child,
    );
    this.publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access-block`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      child,
    );
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        bucket: bucket.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            ...(args.policyStatements ?? []),
          ],
        }),
      },
      // A policy put before the block exists could briefly be judged public.
      { ...child, dependsOn: [this.publicAccessBlock] },
    );
    let versioning: aws.s3.BucketVersioning | undefined;
    if (args.versioning ?? false) {
      versioning = new aws.s3.BucketVersioning(
        `${name}-versioning`,
        { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
        child,
      );
    }
    if (args.expireAfterDays !== undefined) {
      // On a versioned bucket, expiring an object only hides it behind a delete marker: the data
      // goes when the now noncurrent version expires, and the marker, left alone, stays for good
      // (S3 refuses ExpiredObjectDeleteMarker next to Days in one rule, hence a second rule).
      const versioned = args.versioning ?? false;
      new aws.s3.BucketLifecycleConfiguration(
        `${name}-lifecycle`,
        {
          bucket: bucket.id,
          rules: [
            {
              id: "expire",
              status: "Enabled",
              filter: {},
              expiration: { days: args.expireAfterDays },
              ...(versioned
                ? {
                    noncurrentVersionExpiration: {
                      noncurrentDays: args.noncurrentVersionDays ?? NONCURRENT_VERSION_DAYS,
                    },
                  }
                : {}),
              abortIncompleteMultipartUpload: { daysAfterInitiation: INCOMPLETE_UPLOAD_DAYS },
            },
            ...(versioned
              ? [
                  {
                    id: "remove-expired-delete-markers",
                    status: "Enabled",
                    filter: {},
                    expiration: { expiredObjectDeleteMarker: true },
                  },
                ]
              : []),
          ],
        },
        // Versioning first: a lifecycle with noncurrent-version rules on an unversioned bucket is
        // accepted but means nothing until versioning is on.
        { ...child, dependsOn: versioning === undefined ? [] : [versioning] },
      );
    }
    this.bucket = bucket;
    this.registerOutputs({ bucketName: bucket.bucket, bucketArn: bucket.arn });
  }
}
