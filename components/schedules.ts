import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV, scheduleRunnerEntrypoint } from "../handlers/entrypoints";
import { SCHEDULES_TABLE } from "../handlers/schedules/model";
import { ServiceFunction } from "./serviceFunction";
import { serviceTrustPolicy } from "./serviceTrust";
import { deadLetterQueue as createDeadLetterQueue } from "./streamConsumer";

/** A table the runner writes a flag change to, as FlagApi has it. */
export interface SchedulesTableRef {
  name: pulumi.Input<string>;
  arn: pulumi.Input<string>;
}

export interface SchedulesArgs {
  /** The flags table: the runner writes the scheduled change (the flag's update transaction). */
  flagsTable: SchedulesTableRef;
  /** The evaluators table: reference counts and the flag-set version, in the same transaction. */
  evaluatorsTable: SchedulesTableRef;
  /** The history table: the change's entry, in the same transaction. */
  historyTable: SchedulesTableRef;
  /** Retention of the runner's log group, in days. Default 30. */
  logRetentionDays?: number;
  /** Refuse to delete the schedules table. Default true. */
  tableDeletionProtection?: boolean;
}

/**
 * Scheduled changes on AWS with no server of their own: a table of schedules, an EventBridge
 * Scheduler schedule group that holds one one-time schedule per pending change (created and
 * deleted by the API's schedules function), the runner those schedules invoke, the role they
 * invoke it with (trusted by EventBridge Scheduler for this group only), and the dead-letter queue
 * an invocation goes to once Scheduler's retries are spent.
 */
export class Schedules extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;
  readonly group: aws.scheduler.ScheduleGroup;
  /** The group's name: the API function's schedules are created there, and IAM is scoped to it. */
  readonly groupName: pulumi.Output<string>;
  readonly runner: ServiceFunction;
  /** What EventBridge Scheduler assumes to invoke the runner (and to dead-letter). */
  readonly targetRole: aws.iam.Role;
  readonly deadLetterQueue: aws.sqs.Queue;
  /** The IAM statements a function needs to create (`arm`) schedules in the group and pass the target role. */
  readonly armStatements: pulumi.Input<aws.iam.PolicyStatement>[];
  /** The IAM statements a function needs to delete schedules of the group (cancelling). */
  readonly disarmStatements: pulumi.Input<aws.iam.PolicyStatement>[];
  /** Environment for a function that arms and disarms schedules (ENV.schedule*). */
  readonly armEnvironment: Record<string, pulumi.Input<string>>;

  constructor(name: string, args: SchedulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("feature-flags:schedules:Schedules", name, {}, opts);
    // Schedule group names: 1 to 64 of [0-9a-zA-Z-_.].
    const groupName = `${name}-schedules`;
    if (!/^[0-9a-zA-Z_.-]{1,64}$/.test(groupName)) {
      throw new pulumi.ResourceError(
        `the schedule group name '${groupName}' must be at most 64 letters, digits, '-', '_' or '.'; use a shorter component name`,
        this,
      );
    }
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const partitionArn = (service: string, resource: pulumi.Input<string>) =>
      pulumi.interpolate`arn:aws:${service}:${region}:${account}:${resource}`;

    const createTable = () =>
      new aws.dynamodb.Table(
        `${name}-schedules`,
        {
          billingMode: "PAY_PER_REQUEST",
          hashKey: SCHEDULES_TABLE.hashKey,
          rangeKey: SCHEDULES_TABLE.rangeKey,
          attributes: SCHEDULES_TABLE.attributes.map((attribute) => ({ ...attribute })),
          // Done schedules stay listed for DONE_RETENTION_DAYS, then go.
          ttl: { attributeName: SCHEDULES_TABLE.ttlAttribute, enabled: true },
          pointInTimeRecovery: { enabled: true },
          serverSideEncryption: { enabled: true },
          deletionProtectionEnabled: args.tableDeletionProtection ?? true,
        },
        { parent: this },
      );

    const createRunner = (table: aws.dynamodb.Table) => {
      const allow = (actions: string[], resource: pulumi.Input<string>): aws.iam.PolicyStatement => ({
        Effect: "Allow",
        Action: actions.map((action) => `dynamodb:${action}`),
        Resource: resource,
      });
      return new ServiceFunction(
        `${name}-schedule-runner`,
        {
          description: "Applies a scheduled change at its time (EventBridge Scheduler's target)",
          callbackFactory: scheduleRunnerEntrypoint,
          logRetentionDays: args.logRetentionDays ?? 30,
          environment: {
            [ENV.flagsTable]: args.flagsTable.name,
            [ENV.evaluatorsTable]: args.evaluatorsTable.name,
            [ENV.historyTable]: args.historyTable.name,
            [ENV.schedulesTable]: table.name,
          },
          statements: [
            // The flag's update, as PUT makes it: read, then one transaction of the flag, its
            // evaluator references and the flag-set version, its history entry, and the schedule.
            allow(["GetItem", "UpdateItem"], args.flagsTable.arn),
            allow(["UpdateItem"], args.evaluatorsTable.arn),
            allow(["PutItem"], args.historyTable.arn),
            // The schedule: read, then applied (in the transaction) or failed.
            allow(["GetItem", "UpdateItem"], table.arn),
          ],
        },
        { parent: this },
      );
    };

    const createGroup = () =>
      new aws.scheduler.ScheduleGroup(`${name}-schedules`, { name: groupName }, { parent: this });

    const createTargetRole = (runner: ServiceFunction, queue: aws.sqs.Queue) => {
      const role = new aws.iam.Role(
        `${name}-scheduler-role`,
        {
          description:
            "EventBridge Scheduler invokes the schedule runner with this role, for this stack's schedule group only",
          // EventBridge Scheduler sends the account and the schedule group's ARN when it assumes the role.
          assumeRolePolicy: serviceTrustPolicy({
            service: "scheduler.amazonaws.com",
            account,
            sourceArn: partitionArn("scheduler", `schedule-group/${groupName}`),
          }),
        },
        { parent: this },
      );
      new aws.iam.RolePolicy(
        `${name}-scheduler-policy`,
        {
          role: role.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: runner.function.arn },
              // An invocation whose retries are spent is dead-lettered with the schedule's role.
              { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: queue.arn },
            ],
          }),
        },
        { parent: this },
      );
      return role;
    };

    this.table = createTable();
    this.deadLetterQueue = createDeadLetterQueue(`${name}-schedule-dlq`, this);
    this.runner = createRunner(this.table);
    this.group = createGroup();
    this.groupName = this.group.name;
    this.targetRole = createTargetRole(this.runner, this.deadLetterQueue);

    const schedulesInGroup = partitionArn("scheduler", pulumi.interpolate`schedule/${this.group.name}/*`);
    this.disarmStatements = [{ Effect: "Allow", Action: ["scheduler:DeleteSchedule"], Resource: schedulesInGroup }];
    this.armStatements = [
      { Effect: "Allow", Action: ["scheduler:CreateSchedule"], Resource: schedulesInGroup },
      // Creating a schedule hands it the target role: to EventBridge Scheduler, and only that role.
      {
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: this.targetRole.arn,
        Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
      },
    ];
    this.armEnvironment = {
      [ENV.schedulesTable]: this.table.name,
      [ENV.scheduleGroup]: this.group.name,
      [ENV.scheduleTarget]: this.runner.function.arn,
      [ENV.scheduleRole]: this.targetRole.arn,
      [ENV.scheduleDeadLetter]: this.deadLetterQueue.arn,
    };
    this.registerOutputs({
      tableName: this.table.name,
      groupName: this.groupName,
      runnerArn: this.runner.function.arn,
      deadLetterQueueArn: this.deadLetterQueue.arn,
    });
  }
}
