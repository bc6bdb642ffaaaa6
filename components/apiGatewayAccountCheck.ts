import * as pulumi from "@pulumi/pulumi";

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

export interface CheckInputs {
  region: string;
  profile?: string;
}

/** Reads the account's API Gateway settings with the deployer's credentials. */
async function readCloudWatchRole(inputs: CheckInputs): Promise<string | undefined> {
  const apigateway = await import("@aws-sdk/client-api-gateway");
  const client = new apigateway.APIGatewayClient({ region: inputs.region, profile: inputs.profile });
  try {
    return (await client.send(new apigateway.GetAccountCommand({}))).cloudwatchRoleArn;
  } finally {
    client.destroy();
  }
}

/**
 * The check behind ApiGatewayAccountCheck, at `pulumi preview` and on the first `pulumi up`: fails
 * with what to do instead of a stage update that fails halfway through a deployment. Once the
 * stack exists it does not check again.
 */
export async function preflight(
  olds: Partial<CheckInputs> | undefined,
  news: CheckInputs,
): Promise<pulumi.dynamic.CheckResult> {
  if (olds !== undefined && Object.keys(olds).length > 0) return { inputs: news };
  let problem: string | undefined;
  try {
    problem = cloudWatchRoleProblem(await readCloudWatchRole(news), news.region);
  } catch (error) {
    problem =
      `Could not read the API Gateway account settings in ${news.region} (${(error as Error).name}): the ` +
      `deploying identity needs apigateway:GET on arn:aws:apigateway:${news.region}::/account.`;
  }
  return problem === undefined
    ? { inputs: news }
    : { inputs: news, failures: [{ property: "createApiGatewayAccountRole", reason: problem }] };
}

const provider: pulumi.dynamic.ResourceProvider = {
  check: preflight,
  async create(inputs: CheckInputs) {
    return { id: `apigateway-account-check-${inputs.region}`, outs: inputs };
  },
};

export interface ApiGatewayAccountCheckArgs {
  region: pulumi.Input<string>;
  /** The AWS profile the stack deploys with (`aws:profile`), if any. */
  profile?: pulumi.Input<string>;
}

/** Checks, before any stage is deployed, that API Gateway has a CloudWatch Logs role here. */
export class ApiGatewayAccountCheck extends pulumi.dynamic.Resource {
  constructor(name: string, args: ApiGatewayAccountCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, args, opts);
  }
}
