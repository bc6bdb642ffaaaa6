import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV, flagDeleteEntrypoint, flagReadsEntrypoint, flagWritesEntrypoint } from "../handlers/entrypoints";
import { FLAGS_TABLE } from "../handlers/flags/table";
import { ROUTES, type RouteGroup } from "../handlers/routes";
import { restApiSpec } from "./restApiSpec";
import { ServiceFunction } from "./serviceFunction";

export interface FlagApiArgs {
  /** Whether DELETE is allowed; the value of the `allow-flag-deletion` parameter. Default true. */
  allowFlagDeletion?: pulumi.Input<boolean>;
  /**
   * Path prefix of the SSM parameters, so each project and stack gets its own.
   * @example "/feature-flags/prod"
   */
  parameterPrefix: string;
  /** Retention of every function's log group, in days. Default 30. */
  logRetentionDays?: number;
  /** API Gateway stage name. Default: the stack name. */
  stageName?: string;
  /** Steady-state requests per second the stage admits. Default 100. */
  throttleRateLimit?: number;
  /** Burst of requests the stage admits above the rate. Default 200. */
  throttleBurstLimit?: number;
  /** Refuse to delete the flags table (also in `pulumi destroy`). Default true. */
  tableDeletionProtection?: boolean;
}

/**
 * The flag store and its REST API: a DynamoDB table with a change stream, an API Gateway REST API
 * whose routes are served by one least-privilege Lambda per route group, and the
 * `allow-flag-deletion` parameter that DELETE consults.
 */
export class FlagApi extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;
  readonly deletionParameter: aws.ssm.Parameter;
  readonly functions: Readonly<Record<RouteGroup, ServiceFunction>>;
  readonly api: aws.apigateway.RestApi;
  readonly stage: aws.apigateway.Stage;
  /** Base URL of the REST API, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/dev`. */
  readonly apiUrl: pulumi.Output<string>;
  readonly tableName: pulumi.Output<string>;
  readonly tableArn: pulumi.Output<string>;
  /** The flags table's stream, for the realtime and audit consumers. */
  readonly tableStreamArn: pulumi.Output<string>;
  /** Name (path) of the `allow-flag-deletion` SSM parameter. */
  readonly allowFlagDeletionParameter: pulumi.Output<string>;

  constructor(name: string, args: FlagApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:flagApi:FlagApi", name, {}, opts);
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(args.parameterPrefix)) {
      throw new pulumi.ResourceError(
        `parameterPrefix '${args.parameterPrefix}' must be an SSM path such as /feature-flags/dev`,
        this,
      );
    }
    const logRetentionDays = args.logRetentionDays ?? 30;
    const stageName = args.stageName ?? pulumi.getStack();

    const createTable = () =>
      new aws.dynamodb.Table(
        `${name}-flags`,
        {
          billingMode: "PAY_PER_REQUEST",
          hashKey: FLAGS_TABLE.hashKey,
          attributes: [...FLAGS_TABLE.attributes],
          streamEnabled: true,
          streamViewType: FLAGS_TABLE.streamViewType,
          pointInTimeRecovery: { enabled: true },
          serverSideEncryption: { enabled: true },
          deletionProtectionEnabled: args.tableDeletionProtection ?? true,
        },
        { parent: this },
      );

    const createDeletionParameter = () =>
      new aws.ssm.Parameter(
        `${name}-allow-flag-deletion`,
        {
          name: `${args.parameterPrefix}/allow-flag-deletion`,
          type: "String",
          // insecureValue: not a secret, so `pulumi preview` shows the switch being flipped.
          insecureValue: pulumi.output(args.allowFlagDeletion ?? true).apply((allowed) => (allowed ? "true" : "false")),
          description: "Whether DELETE /flags/{flagName} is allowed. Set with `pulumi config set allowFlagDeletion`.",
        },
        { parent: this },
      );

    const createFunctions = (table: aws.dynamodb.Table, parameter: aws.ssm.Parameter) => {
      const environment = { [ENV.flagsTable]: table.name };
      const common = { logRetentionDays, environment };
      return {
        read: new ServiceFunction(
          `${name}-read`,
          {
            ...common,
            description: "GET /flags, GET /flags/{flagName}, GET /health",
            callbackFactory: flagReadsEntrypoint,
            // UpdateItem: a read stamps lastAccessed in the same request that returns the flag.
            statements: [{ Effect: "Allow", Action: ["dynamodb:Scan", "dynamodb:UpdateItem"], Resource: table.arn }],
          },
          { parent: this },
        ),
        write: new ServiceFunction(
          `${name}-write`,
          {
            ...common,
            description: "POST /flags, PUT /flags/{flagName}",
            callbackFactory: flagWritesEntrypoint,
            statements: [{ Effect: "Allow", Action: ["dynamodb:PutItem", "dynamodb:UpdateItem"], Resource: table.arn }],
          },
          { parent: this },
        ),
        delete: new ServiceFunction(
          `${name}-delete`,
          {
            ...common,
            description: "DELETE /flags/{flagName}",
            callbackFactory: flagDeleteEntrypoint,
            environment: { ...environment, [ENV.deletionParameter]: parameter.name },
            statements: [
              { Effect: "Allow", Action: ["dynamodb:DeleteItem"], Resource: table.arn },
              { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameter.arn },
            ],
          },
          { parent: this },
        ),
      };
    };

    const createApi = (functions: Record<RouteGroup, ServiceFunction>) => {
      const body = pulumi
        .all({
          read: functions.read.function.invokeArn,
          write: functions.write.function.invokeArn,
          delete: functions.delete.function.invokeArn,
        })
        .apply((integrations: Record<RouteGroup, string>) =>
          JSON.stringify(restApiSpec({ title: `${name}-flags`, integrations })),
        );
      const api = new aws.apigateway.RestApi(
        `${name}-api`,
        { body, endpointConfiguration: { types: "REGIONAL" }, failOnWarnings: true },
        { parent: this },
      );
      // Each function may be invoked by this API for its own routes only.
      for (const route of ROUTES) {
        const path = route.resource.replace(/\{[^}]+\}/g, "*");
        new aws.lambda.Permission(
          `${name}-invoke-${route.method.toLowerCase()}${route.resource.replace(/[^A-Za-z]+/g, "-")}`,
          {
            action: "lambda:InvokeFunction",
            principal: "apigateway.amazonaws.com",
            function: functions[route.group].function.name,
            sourceArn: pulumi.interpolate`${api.executionArn}/*/${route.method}${path}`,
          },
          { parent: this },
        );
      }
      const deployment = new aws.apigateway.Deployment(
        `${name}-deployment`,
        {
          restApi: api.id,
          // A new deployment whenever the API definition changes; otherwise the stage keeps serving the old one.
          triggers: { definition: body.apply((text) => createHash("sha256").update(text).digest("hex")) },
        },
        { parent: this },
      );
      const stage = new aws.apigateway.Stage(
        `${name}-stage`,
        { restApi: api.id, deployment: deployment.id, stageName },
        { parent: this },
      );
      new aws.apigateway.MethodSettings(
        `${name}-stage-settings`,
        {
          restApi: api.id,
          stageName: stage.stageName,
          methodPath: "*/*",
          settings: {
            throttlingRateLimit: args.throttleRateLimit ?? 100,
            throttlingBurstLimit: args.throttleBurstLimit ?? 200,
            metricsEnabled: true,
          },
        },
        { parent: this },
      );
      return { api, stage };
    };

    this.table = createTable();
    this.deletionParameter = createDeletionParameter();
    this.functions = createFunctions(this.table, this.deletionParameter);
    const { api, stage } = createApi(this.functions);
    this.api = api;
    this.stage = stage;

    this.apiUrl = stage.invokeUrl;
    this.tableName = this.table.name;
    this.tableArn = this.table.arn;
    this.tableStreamArn = this.table.streamArn;
    this.allowFlagDeletionParameter = this.deletionParameter.name;
    this.registerOutputs({
      apiUrl: this.apiUrl,
      tableName: this.tableName,
      tableArn: this.tableArn,
      tableStreamArn: this.tableStreamArn,
      allowFlagDeletionParameter: this.allowFlagDeletionParameter,
    });
  }
}
