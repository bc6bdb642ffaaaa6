import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ApiGatewayAccountCheck } from "./apiGatewayAccountCheck";
import { serviceTrustPolicy } from "./serviceTrust";

/**
 * AWS-managed service-role policy: logs:CreateLogGroup, CreateLogStream, DescribeLogGroups,
 * DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents. API Gateway creates the
 * execution log groups (`API-Gateway-Execution-Logs_{api-id}/{stage}`) itself, so it needs
 * CreateLogGroup on log groups whose names it picks: no narrower inline policy would keep working.
 */
export const PUSH_TO_CLOUDWATCH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";

export interface ApiGatewayAccountArgs {
  /**
   * Create the role and set it as the account's API Gateway CloudWatch role (the stack's
   * `createApiGatewayAccountRole`). Account-wide: it replaces any role already set for the region,
   * and stays set after `pulumi destroy` (API Gateway has no "unset"). Default false: preview
   * checks that the account has one and says what to do if not.
   */
  createRole?: boolean;
}

/**
 * What API Gateway needs before a stage may log: the account's CloudWatch Logs role. Either
 * created here, or checked for (ApiGatewayAccountCheck). Stages depend on `ready`.
 */
export class ApiGatewayAccount extends pulumi.ComponentResource {
  /** The resources a logging stage waits for. */
  readonly ready: pulumi.Resource[];
  /** The role created, if `createRole`. */
  readonly role: aws.iam.Role | undefined;

  constructor(name: string, args: ApiGatewayAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:apiGatewayAccount:ApiGatewayAccount", name, {}, opts);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    if (args.createRole !== true) {
      this.role = undefined;
      this.ready = [
        new ApiGatewayAccountCheck(
          `${name}-apigateway-account-check`,
          { region, profile: new pulumi.Config("aws").get("profile") },
          { parent: this },
        ),
      ];
    } else {
      const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
      this.role = new aws.iam.Role(
        `${name}-apigateway-cloudwatch`,
        {
          description: "API Gateway writes the account's stage access and execution logs with this role.",
          // API Gateway documents no source keys for this role: they must match whenever sent.
          assumeRolePolicy: serviceTrustPolicy({ service: "apigateway.amazonaws.com", account, keys: "if-sent" }),
        },
        { parent: this },
      );
      const attachment = new aws.iam.RolePolicyAttachment(
        `${name}-apigateway-cloudwatch`,
        { role: this.role.name, policyArn: PUSH_TO_CLOUDWATCH_POLICY },
        { parent: this },
      );
      this.ready = [
        new aws.apigateway.Account(
          `${name}-apigateway-account`,
          { cloudwatchRoleArn: this.role.arn },
          { parent: this, dependsOn: [attachment] },
        ),
      ];
    }
    this.registerOutputs({ roleArn: this.role?.arn });
  }
}
