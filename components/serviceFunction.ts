import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StreamifyHandler } from "aws-lambda";
import { HANDLER, bundledArchive } from "./packaging";
import { serviceTrustPolicy } from "./serviceTrust";

/** Every function of the service runs on this runtime (it ships the AWS SDK v3). */
export const LAMBDA_RUNTIME = aws.lambda.Runtime.NodeJS24dX;

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export interface ServiceFunctionArgs {
  /**
   * Returns the Lambda handler. Runs once per cold start, so clients are built there and never
   * captured by serialization. Must be a plain function from `handlers/`.
   */
  callbackFactory: () => aws.lambda.Callback<never, unknown> | StreamifyHandler<never, unknown>;
  /** What the function may do besides writing its own logs: exact actions on exact ARNs. */
  statements: pulumi.Input<aws.iam.PolicyStatement>[];
  /** Retention of the function's log group, in days. */
  logRetentionDays: pulumi.Input<number>;
  /** Environment variables; never secrets (they are readable by anyone who can read the function). */
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Seconds before Lambda stops an invocation. Default 10. */
  timeout?: number;
  /** Memory in MB, which also buys CPU. Default 512. */
  memorySize?: number;
  /**
   * Concurrent executions reserved for (and the most allowed to) this function. Default none: it
   * shares the account's pool. A function whose invocations last minutes (a response stream)
   * gets a cap, so it cannot take the concurrency every other function needs.
   */
  reservedConcurrency?: number;
  description?: string;
  /**
   * Messages of errors the function throws on purpose, as its answer rather than a fault (the
   * WebSocket authorizer's "Unauthorized" is API Gateway's only way to a 401). The Lambda runtime
   * logs them at ERROR and counts them in `Errors`; Observability discounts exactly these.
   */
  expectedErrorMessages?: string[];
}

/**
 * A serialized-callback Lambda with everything a service function needs and nothing more: its own
 * role with one inline least-privilege policy (never the CallbackFunction default: nine broad
 * AWS-managed policies), an explicit log group with retention, JSON logs, active X-Ray tracing, and an archive holding
 * one bundled file: the serialized callback with only the code it reaches, the parts of the AWS
 * SDK it uses included (they load faster than the runtime's whole SDK; see `packaging.ts`).
 */
export class ServiceFunction extends pulumi.ComponentResource {
  private static readonly registry: ServiceFunction[] = [];

  /**
   * Every ServiceFunction this program has created so far, in order. Observability covers these
   * by default, so a function added anywhere gets its error alarm without being listed.
   */
  static created(): readonly ServiceFunction[] {
    return [...ServiceFunction.registry];
  }

  /** The logical name it was created with; names its alarms and metrics. */
  readonly name: string;
  /** What it runs: kept so the bench can package the same code the default way, side by side. */
  readonly callbackFactory: () => unknown;
  readonly function: aws.lambda.Function;
  readonly role: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
  /** See ServiceFunctionArgs.expectedErrorMessages. */
  readonly expectedErrorMessages: readonly string[];

  constructor(name: string, args: ServiceFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:lambda:ServiceFunction", name, {}, opts);
    this.name = name;
    this.expectedErrorMessages = args.expectedErrorMessages ?? [];
    this.callbackFactory = args.callbackFactory;
    const retention = args.logRetentionDays;
    if (typeof retention === "number" && !LOG_RETENTION_DAYS.includes(retention)) {
      throw new pulumi.ResourceError(
        `logRetentionDays ${retention} is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(", ")}`,
        this,
      );
    }

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { retentionInDays: args.logRetentionDays },
      { parent: this },
    );

    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        // Lambda documents no source keys for assuming an execution role (its `lambda:SourceFunctionArn`
        // is added to the calls made with the role, not to the assumption), so `if-sent`: whenever
        // Lambda names an account or function, they must be this account's and one of its functions
        // in this region. Not narrowed to this function's name: the role exists before the function
        // (no cycle), and a pattern over Pulumi's autoname would lock the function out of its role
        // if autonaming were configured otherwise; iam:PassRole already decides who in the account
        // may hand the role to a function.
        assumeRolePolicy: serviceTrustPolicy({
          service: "lambda.amazonaws.com",
          account,
          sourceArn: pulumi.interpolate`arn:aws:lambda:${region}:${account}:function:*`,
          keys: "if-sent",
        }),
      },
      { parent: this },
    );

    const policy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
              Resource: pulumi.interpolate`${this.logGroup.arn}:*`,
            },
            // Active tracing: Lambda's X-Ray daemon sends the traces with the function's role. X-Ray
            // has no resource-level permissions for these two (the AWS-managed AWSXRayDaemonWriteAccess
            // adds sampling-rule reads, which Lambda's daemon does not make).
            { Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
            ...args.statements,
          ],
        }),
      },
      { parent: this },
    );

    this.function = new aws.lambda.Function(
      name,
      {
        // A serialized callback, as CallbackFunction makes it, bundled to what the handler uses.
        code: bundledArchive(args.callbackFactory),
        handler: HANDLER,
        role: this.role.arn,
        runtime: LAMBDA_RUNTIME,
        architectures: ["arm64"],
        memorySize: args.memorySize ?? 512,
        timeout: args.timeout ?? 10,
        reservedConcurrentExecutions: args.reservedConcurrency,
        description: args.description,
        environment: args.environment === undefined ? undefined : { variables: args.environment },
        // X-Ray: each invocation traced, the handler's AWS SDK calls as subsegments (Powertools Tracer).
        tracingConfig: { mode: "Active" },
        loggingConfig: {
          logFormat: "JSON",
          logGroup: this.logGroup.name,
          applicationLogLevel: "INFO",
          systemLogLevel: "WARN",
        },
      },
      // The policy must exist before the first invocation can log or touch data.
      { parent: this, dependsOn: [policy] },
    );

    ServiceFunction.registry.push(this);
    this.registerOutputs({ functionArn: this.function.arn, roleArn: this.role.arn });
  }
}
