import * as pulumi from "@pulumi/pulumi";
import { type Preflight, type PreflightInputs, preflightProvider, runPreflight } from "./preflightCheck";

/**
 * Why stage logging would fail to deploy in this account and region, as a message saying what to
 * do; undefined when it will work. API Gateway writes access and execution logs with one role per
 * account and region (its "CloudWatch log role ARN"); without it, a stage with logging on fails
 * to deploy ("CloudWatch Logs role ARN must be set in account settings to enable logging").
 */
export function cloudWatchRoleProblem(roleArn: string | undefined, region: string): string | undefined {
  if (roleArn !== undefined && roleArn !== "") return undefined;
  return (
    `API Gateway in ${region} has no CloudWatch Logs role, and the stages' access and execution logs need one. ` +
    `Run \`pulumi config set createApiGatewayAccountRole true\` to create it (it is account-wide: ` +
    `one per account and region, shared by every API there), or set it yourself ` +
    `(aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=<role ARN>).`
  );
}

/** Reads the account's API Gateway settings with the deployer's credentials. */
async function readCloudWatchRole(inputs: PreflightInputs): Promise<string | undefined> {
  const apigateway = await import("@aws-sdk/client-api-gateway");
  const client = new apigateway.APIGatewayClient({ region: inputs.region, profile: inputs.profile });
  try {
    return (await client.send(new apigateway.GetAccountCommand({}))).cloudwatchRoleArn;
  } finally {
    client.destroy();
  }
}

const CHECK: Preflight<PreflightInputs, string | undefined> = {
  id: "apigateway-account-check",
  property: "createApiGatewayAccountRole",
  read: readCloudWatchRole,
  problem: (roleArn, inputs) => cloudWatchRoleProblem(roleArn, inputs.region),
  unreadable: (inputs, error) =>
    `Could not read the API Gateway account settings in ${inputs.region} (${error.name}): the ` +
    `deploying identity needs apigateway:GET on arn:aws:apigateway:${inputs.region}::/account.`,
};

/** The check behind ApiGatewayAccountCheck (see `runPreflight`). */
export const preflight = (olds: Partial<PreflightInputs> | undefined, news: PreflightInputs) =>
  runPreflight(CHECK, olds, news);

export interface ApiGatewayAccountCheckArgs {
  region: pulumi.Input<string>;
  /** The AWS profile the stack deploys with (`aws:profile`), if any. */
  profile?: pulumi.Input<string>;
}

/** Checks, before any stage is deployed, that API Gateway has a CloudWatch Logs role here. */
export class ApiGatewayAccountCheck extends pulumi.dynamic.Resource {
  constructor(name: string, args: ApiGatewayAccountCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(preflightProvider(CHECK), name, args, opts);
  }
}
