import * as pulumi from "@pulumi/pulumi";

export interface ServiceTrust {
  /** The service principal that assumes the role, e.g. `pipes.amazonaws.com`. */
  service: string;
  /** This stack's account: the service may assume the role only on behalf of it (`aws:SourceAccount`). */
  account: pulumi.Input<string>;
  /**
   * The resources the service acts for (`aws:SourceArn`, matched with ArnLike, so a pattern may
   * name a resource that needs the role before it exists). Omitted: any resource of the account.
   */
  sourceArn?: pulumi.Input<string>;
  /**
   * How the service identifies the account it acts for:
   * - `source` (default): it sends `aws:SourceAccount`/`aws:SourceArn`, which must match;
   * - `external-id`: it sends the account as `sts:ExternalId` (Firehose's documented trust), which
   *   must match; `aws:SourceAccount`/`aws:SourceArn` must match too whenever it sends them;
   * - `if-sent`: no documented key (API Gateway's integration credentials, Lambda's execution
   *   roles); `aws:SourceAccount`/`aws:SourceArn` must match whenever sent. Without them another
   *   account still cannot use the role: iam:PassRole never hands a role to another account.
   */
  keys?: "source" | "external-id" | "if-sent";
}

/**
 * A role trust policy that lets one AWS service assume the role for this account only (and, with
 * `sourceArn`, only for the named resources): the cross-service confused-deputy protection AWS
 * recommends, so another account cannot point the same service at this role.
 */
export function serviceTrustPolicy(trust: ServiceTrust): pulumi.Output<string> {
  const keys = trust.keys ?? "source";
  const suffix = keys === "source" ? "" : "IfExists";
  const condition: Record<string, Record<string, pulumi.Input<string>>> = {
    [`StringEquals${suffix}`]: { "aws:SourceAccount": trust.account },
    ...(trust.sourceArn === undefined ? {} : { [`ArnLike${suffix}`]: { "aws:SourceArn": trust.sourceArn } }),
  };
  if (keys === "external-id") condition.StringEquals = { "sts:ExternalId": trust.account };
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: trust.service },
        Action: "sts:AssumeRole",
        Condition: condition,
      },
    ],
  });
}
