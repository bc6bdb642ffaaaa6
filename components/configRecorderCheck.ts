import * as pulumi from "@pulumi/pulumi";
import { type Preflight, type PreflightInputs, preflightProvider, runPreflight } from "./preflightCheck";

/** What the check reads of one AWS Config recorder in the account and region. */
export interface RecorderState {
  name: string;
  /** Whether it is started (a stopped recorder evaluates nothing). */
  recording: boolean;
  allSupported: boolean;
  resourceTypes: string[];
  excludedResourceTypes: string[];
}

const S3_BUCKET = "AWS::S3::Bucket";

/**
 * Why the Compliance rule would fail to deploy or never evaluate in this account and region, as
 * a message saying what to do; undefined when it will work. AWS allows one customer-managed
 * recorder per region, and a Config rule needs one that records S3 buckets and is started.
 */
export function configRecorderProblem(
  recorders: readonly RecorderState[],
  createConfigRecorder: boolean,
  region: string,
): string | undefined {
  if (createConfigRecorder) {
    if (recorders.length === 0) return undefined;
    return (
      `AWS Config in ${region} already has the recorder '${recorders[0].name}' and allows only one: ` +
      `run \`pulumi config set createConfigRecorder false\` to use it (it must record ${S3_BUCKET}).`
    );
  }
  if (recorders.length === 0) {
    return (
      `AWS Config has no configuration recorder in ${region}, and the public-bucket rule needs one. ` +
      `Run \`pulumi config set createConfigRecorder true\` to create one that records S3 buckets only, ` +
      `or set up AWS Config in this region yourself.`
    );
  }
  const recordsBuckets = recorders.filter(
    (r) => (r.allSupported || r.resourceTypes.includes(S3_BUCKET)) && !r.excludedResourceTypes.includes(S3_BUCKET),
  );
  if (recordsBuckets.length === 0) {
    return (
      `The AWS Config recorder '${recorders[0].name}' in ${region} does not record ${S3_BUCKET}, so the ` +
      `public-bucket rule would never evaluate: add ${S3_BUCKET} to its recording group ` +
      `(aws configservice put-configuration-recorder), then run pulumi up again.`
    );
  }
  if (!recordsBuckets.some((r) => r.recording)) {
    return (
      `The AWS Config recorder '${recordsBuckets[0].name}' in ${region} is stopped: start it ` +
      `(aws configservice start-configuration-recorder --configuration-recorder-name ${recordsBuckets[0].name}).`
    );
  }
  return undefined;
}

export interface CheckInputs extends PreflightInputs {
  createConfigRecorder: boolean;
}

/** Reads the recorders with the deployer's credentials (the same ones `pulumi up` uses). */
async function readRecorders(inputs: CheckInputs): Promise<RecorderState[]> {
  const config = await import("@aws-sdk/client-config-service");
  const client = new config.ConfigServiceClient({ region: inputs.region, profile: inputs.profile });
  try {
    const { ConfigurationRecorders = [] } = await client.send(new config.DescribeConfigurationRecordersCommand({}));
    const { ConfigurationRecordersStatus = [] } = await client.send(
      new config.DescribeConfigurationRecorderStatusCommand({}),
    );
    return ConfigurationRecorders.map((recorder) => ({
      name: recorder.name ?? "default",
      recording: ConfigurationRecordersStatus.some((s) => s.name === recorder.name && s.recording === true),
      allSupported: recorder.recordingGroup?.allSupported ?? false,
      resourceTypes: recorder.recordingGroup?.resourceTypes ?? [],
      excludedResourceTypes: recorder.recordingGroup?.exclusionByResourceTypes?.resourceTypes ?? [],
    }));
  } finally {
    client.destroy();
  }
}

/**
 * Instead of a raw NoAvailableConfigurationRecorder exception halfway through a deployment (or a
 * rule that silently never evaluates); not again once the stack exists, so the recorder this stack
 * may create does not trip it.
 */
const CHECK: Preflight<CheckInputs, RecorderState[]> = {
  id: "config-recorder-check",
  property: "createConfigRecorder",
  read: readRecorders,
  problem: (recorders, inputs) => configRecorderProblem(recorders, inputs.createConfigRecorder, inputs.region),
  unreadable: (inputs, error) =>
    `Could not read the AWS Config recorders in ${inputs.region} (${error.name}): the deploying ` +
    `identity needs config:DescribeConfigurationRecorders and config:DescribeConfigurationRecorderStatus.`,
};

/** The check behind ConfigRecorderCheck (see `runPreflight`). */
export const preflight = (olds: Partial<CheckInputs> | undefined, news: CheckInputs) => runPreflight(CHECK, olds, news);

export interface ConfigRecorderCheckArgs {
  region: pulumi.Input<string>;
  /** The AWS profile the stack deploys with (`aws:profile`), if any. */
  profile?: pulumi.Input<string>;
  createConfigRecorder: boolean;
}

/** Checks, before anything is deployed, that AWS Config can run the Compliance rule. */
export class ConfigRecorderCheck extends pulumi.dynamic.Resource {
  constructor(name: string, args: ConfigRecorderCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(preflightProvider(CHECK), name, args, opts);
  }
}
