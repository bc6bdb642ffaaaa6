import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ENV, scheduleRunnerEntrypoint } from "../handlers/entrypoints";
import { ALARM_STATE_CHANGE_PATTERN } from "../handlers/rollouts/runner";
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
 * Scheduled changes and progressive rollouts on AWS with no server of their own: a table of
 * schedules (and each flag's rollout), an EventBridge Scheduler schedule group that holds one
 * one-time schedule per pending change or rollout step (created and deleted by the API's
 * functions; a rollout's runner arms its next step itself), the runner those schedules invoke,
 * the role they invoke it with (trusted by EventBridge Scheduler for this group only), the
 * dead-letter queue an invocation goes to once Scheduler's retries are spent, and the guard: an
 * EventBridge rule on CloudWatch's alarm state changes to ALARM that invokes the runner, which
 * aborts the running rollouts that alarm guards.
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
  /** The IAM statements a function needs to arm and disarm rollout steps (`rollout-*` schedules) only. */
  readonly rolloutClockStatements: pulumi.Input<aws.iam.PolicyStatement>[];
  /** The rule on `CloudWatch Alarm State Change` (to ALARM) that invokes the runner: the rollouts' guard. */
  readonly guardRule: aws.cloudwatch.EventRule;

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

    const schedulesNamed = (pattern: string) =>
      partitionArn("scheduler", pulumi.interpolate`schedule/${groupName}/${pattern}`);
    const passTargetRole = (role: aws.iam.Role): aws.iam.PolicyStatement => ({
      // Creating a schedule hands it the target role: to EventBridge Scheduler, and only that role.
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: role.arn,
      Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
    });
    // Rollout steps' schedules are named `rollout-<hash>-<step>` (handlers/rollouts/model.ts).
    const rolloutClockStatements = (role: aws.iam.Role): aws.iam.PolicyStatement[] => [
      {
        Effect: "Allow",
        Action: ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
        Resource: schedulesNamed("rollout-*"),
      },
      passTargetRole(role),
    ];

    const createRunner = (
      table: aws.dynamodb.Table,
      group: aws.scheduler.ScheduleGroup,
      role: aws.iam.Role,
      queue: aws.sqs.Queue,
    ) => {
      const allow = (actions: string[], resource: pulumi.Input<string>): aws.iam.PolicyStatement => ({
        Effect: "Allow",
        Action: actions.map((action) => `dynamodb:${action}`),
        Resource: resource,
      });
      return new ServiceFunction(
        `${name}-schedule-runner`,
        {
          description:
            "Applies a scheduled change, takes a rollout's next step (EventBridge Scheduler's target), aborts rollouts a guard alarm guards",
          callbackFactory: scheduleRunnerEntrypoint,
          logRetentionDays: args.logRetentionDays ?? 30,
          environment: {
            [ENV.flagsTable]: args.flagsTable.name,
            [ENV.evaluatorsTable]: args.evaluatorsTable.name,
            [ENV.historyTable]: args.historyTable.name,
            [ENV.schedulesTable]: table.name,
            // A rollout step arms the next one; the target is the runner itself (from its invocation).
            [ENV.scheduleGroup]: group.name,
            [ENV.scheduleRole]: role.arn,
            [ENV.scheduleDeadLetter]: queue.arn,
          },
          statements: [
            // The flag's update, as PUT makes it: read, then one transaction of the flag, its
            // evaluator references and the flag-set version, its history entry, and the schedule.
            allow(["GetItem", "UpdateItem"], args.flagsTable.arn),
            allow(["UpdateItem"], args.evaluatorsTable.arn),
            allow(["PutItem"], args.historyTable.arn),
            // The schedule: read, then applied (in the transaction) or failed. A rollout: read, then
            // stepped or aborted (in the transaction); Scan: the running rollouts an alarm guards.
            allow(["GetItem", "UpdateItem", "Scan"], table.arn),
            // A step arms the next one; an abort disarms it.
            ...rolloutClockStatements(role),
          ],
        },
        { parent: this },
      );
    };

    const createGroup = () =>
      new aws.scheduler.ScheduleGroup(`${name}-schedules`, { name: groupName }, { parent: this });

    const createTargetRole = () =>
      new aws.iam.Role(
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

    const createTargetPolicy = (role: aws.iam.Role, runner: ServiceFunction, queue: aws.sqs.Queue) =>
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

    const createGuard = (runner: ServiceFunction) => {
      const rule = new aws.cloudwatch.EventRule(
        `${name}-rollout-guard`,
        {
          description: "A CloudWatch alarm entered ALARM: abort the running rollouts it guards",
          eventPattern: JSON.stringify(ALARM_STATE_CHANGE_PATTERN),
        },
        { parent: this },
      );
      new aws.cloudwatch.EventTarget(
        `${name}-rollout-guard`,
        {
          rule: rule.name,
          arn: runner.function.arn,
          // An abort cannot wait: a delivery Lambda refuses (throttled) is retried for 10 minutes at
          // most; a failed invocation Lambda retries twice itself.
          retryPolicy: { maximumEventAgeInSeconds: 600, maximumRetryAttempts: 20 },
        },
        { parent: this },
      );
      new aws.lambda.Permission(
        `${name}-rollout-guard`,
        {
          action: "lambda:InvokeFunction",
          principal: "events.amazonaws.com",
          function: runner.function.name,
          sourceArn: rule.arn,
        },
        { parent: this },
      );
      return rule;
    };

    this.table = createTable();
    this.deadLetterQueue = createDeadLetterQueue(`${name}-schedule-dlq`, this);
    this.group = createGroup();
    this.groupName = this.group.name;
    this.targetRole = createTargetRole();
    this.runner = createRunner(this.table, this.group, this.targetRole, this.deadLetterQueue);
    createTargetPolicy(this.targetRole, this.runner, this.deadLetterQueue);
    this.guardRule = createGuard(this.runner);
    this.rolloutClockStatements = rolloutClockStatements(this.targetRole);

    const schedulesInGroup = partitionArn("scheduler", pulumi.interpolate`schedule/${this.group.name}/*`);
    this.disarmStatements = [{ Effect: "Allow", Action: ["scheduler:DeleteSchedule"], Resource: schedulesInGroup }];
    this.armStatements = [
      { Effect: "Allow", Action: ["scheduler:CreateSchedule"], Resource: schedulesInGroup },
      passTargetRole(this.targetRole),
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
      guardRuleArn: this.guardRule.arn,
    });
  }
}
