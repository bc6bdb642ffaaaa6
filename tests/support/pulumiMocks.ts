import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { cacheFunctionParsing, cacheTranspilation } from "./programCaches";

export const PROJECT = "feature-flags";
export const STACK = "dev";
export const REGION = "eu-west-1";
export const ACCOUNT = "123456789012";
/** Config keys set with `pulumi config set --secret`. */
const SECRET_KEYS = ["apiTokens"];

/** A resource the mocked program registered, with the inputs Pulumi would send to AWS. */
export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/** Plausible provider outputs for the types the program reads back (ARNs, names, URLs). */
function outputsFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  switch (type) {
    case "aws:dynamodb/table:Table":
      return {
        name,
        arn: arn("dynamodb", `table/${name}`),
        streamArn: arn("dynamodb", `table/${name}/stream/2026-11-22T00:00:00.000`),
      };
    case "aws:lambda/function:Function":
      return {
        name,
        arn: arn("lambda", `function:${name}`),
        invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${name}`)}/invocations`,
      };
    case "aws:iam/role:Role":
      return { name, arn: `arn:aws:iam::${ACCOUNT}:role/${name}` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { name: `/aws/lambda/${name}`, arn: arn("logs", `log-group:/aws/lambda/${name}`) };
    case "aws:ssm/parameter:Parameter":
      return { arn: arn("ssm", `parameter${inputs.name}`) };
    case "aws:apigateway/restApi:RestApi":
      return { name: inputs.name ?? name, executionArn: arn("execute-api", `${name}-id`), rootResourceId: "root" };
    case "aws:apigatewayv2/api:Api":
      return {
        apiEndpoint: `wss://${name}-id.execute-api.${REGION}.amazonaws.com`,
        executionArn: arn("execute-api", `${name}-id`),
      };
    case "aws:s3/bucket:Bucket":
      return { bucket: `${name}-bucket`, arn: `arn:aws:s3:::${name}-bucket` };
    case "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
      return { name, arn: arn("firehose", `deliverystream/${name}`) };
    case "aws:glue/catalogDatabase:CatalogDatabase":
    case "aws:glue/catalogTable:CatalogTable":
    case "aws:athena/workgroup:Workgroup":
      return { name: inputs.name ?? name };
    case "aws:kms/key:Key":
      return { arn: arn("kms", `key/${name}-id`), keyId: `${name}-id` };
    case "aws:sns/topic:Topic":
      return { arn: arn("sns", name), name };
    case "aws:cfg/rule:Rule":
      return { name, arn: arn("config", `config-rule/${name}`) };
    case "aws:cfg/recorder:Recorder":
      return { name };
    case "aws:cloudwatch/eventRule:EventRule":
      return { name, arn: arn("events", `rule/${name}`) };
    case "aws:sqs/queue:Queue":
      return { arn: arn("sqs", name), name, url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}` };
    case "aws:apigateway/stage:Stage":
      return {
        invokeUrl: `https://${name}-id.execute-api.${REGION}.amazonaws.com/${inputs.stageName}`,
        arn: `arn:aws:apigateway:${REGION}::/restapis/${inputs.restApi}/stages/${inputs.stageName}`,
      };
    default:
      return { arn: arn("mock", name) };
  }
}

const programs = new WeakMap<RecordedResource, RecordedResource[]>();

/** Every resource of the mocked program that registered `resource`. */
export function programOf(resource: RecordedResource): RecordedResource[] {
  const program = programs.get(resource);
  if (program === undefined) throw new Error(`${resource.name} was not recorded by runProgram`);
  return program;
}

/** Every run's result by its configuration (see `runProgram`). */
const runs = new Map<string, Promise<readonly RecordedResource[]>>();
/** The last run started: runs share Pulumi's global runtime state, so they go one at a time. */
let lastRun: Promise<unknown> = Promise.resolve();

/**
 * Runs the Pulumi program (`index.ts`) under mocks with the given stack config and returns every
 * resource it registered, once all of them have been.
 *
 * A program run costs seconds (serializing and bundling every function), and many suites run the
 * same configuration, so each configuration runs once per test process: later calls get the same
 * resources, deeply frozen (a test that changed one would change it for every other suite), in
 * an array of their own. A run that failed is not kept: the next call runs the program again.
 */
export function runProgram(config: Record<string, string> = {}): Promise<RecordedResource[]> {
  const key = JSON.stringify(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  let run = runs.get(key);
  if (run === undefined) {
    run = lastRun.then(() => runProgramOnce(config)).then(freezeProgram);
    lastRun = run.catch(() => undefined);
    runs.set(key, run);
    run.catch(() => runs.delete(key));
  }
  return run.then((resources) => [...resources]);
}

/** Freezes plain objects and arrays, deeply; class instances (assets, promises) stay as they are. */
function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

function freezeProgram(resources: RecordedResource[]): readonly RecordedResource[] {
  const program = Object.freeze([...resources]);
  for (const resource of program) {
    deepFreeze(resource);
    programs.set(resource, program as RecordedResource[]);
  }
  return program;
}

async function runProgramOnce(config: Record<string, string>): Promise<RecordedResource[]> {
  const resources: RecordedResource[] = [];
  const registered: Array<Promise<void>> = [];
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([key, value]) => [`${PROJECT}:${key}`, value])),
    SECRET_KEYS.map((key) => `${PROJECT}:${key}`),
  );
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...outputsFor(args.type, args.name, args.inputs) } };
      },
      call(args) {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: "test" };
          case "aws:index/getRegion:getRegion":
            return { region: REGION, name: REGION, id: REGION };
          default:
            return args.inputs;
        }
      },
    },
    PROJECT,
    STACK,
    false,
  );
  // A fresh program and fresh components each run, as `pulumi up` gets a fresh process (the
  // ServiceFunction registry must not carry functions over from an earlier run).
  const programPath = path.resolve(__dirname, "../../index.ts");
  const componentsDir = path.resolve(__dirname, "../../components");
  cacheTranspilation([programPath, componentsDir]);
  cacheFunctionParsing();
  for (const key of Object.keys(require.cache)) {
    if (key === require.resolve(programPath) || key.startsWith(componentsDir)) delete require.cache[key];
  }
  // Pulumi records where each resource was declared from a full stack trace (`new Error().stack`
  // per resource); under ts-node every frame of it is source-mapped, which was about half of a
  // program run. The positions go unused here (no engine), so stacks stay unmapped meanwhile.
  const errors = Error as { prepareStackTrace?: ErrorConstructor["prepareStackTrace"] };
  const mapped = errors.prepareStackTrace;
  errors.prepareStackTrace = undefined;
  try {
    const program: Record<string, pulumi.Output<unknown>> = await import(programPath);
    for (const output of Object.values(program)) {
      if (pulumi.Output.isInstance(output)) registered.push(new Promise((resolve) => output.apply(() => resolve())));
    }
    await Promise.all(registered);
    // Resources whose inputs wait on other outputs (permissions, deployments) register later:
    // wait until no new registration has arrived for a while.
    let seen = -1;
    while (seen !== resources.length) {
      seen = resources.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    errors.prepareStackTrace = mapped;
  }
  return resources;
}

export const ofType = (resources: RecordedResource[], type: string): RecordedResource[] =>
  resources.filter((resource) => resource.type === type);

export function single(resources: RecordedResource[], type: string, nameSuffix = ""): RecordedResource {
  const found = ofType(resources, type).filter((resource) => resource.name.endsWith(nameSuffix));
  if (found.length !== 1) throw new Error(`expected one ${type} named *${nameSuffix}, found ${found.length}`);
  return found[0];
}
