import { ROUTES } from "../../handlers/routes";
import {
  type IamRequest,
  type PolicyDocument,
  type PolicyStatement,
  roleArn,
  roleNamed,
  roleStatements,
  trustPolicy,
} from "./iam";
import { ACCOUNT, ofType, REGION, type RecordedResource, single } from "./pulumiMocks";

/**
 * A call an AWS service makes for the program, stated once: who calls, what, on which resource
 * (as the program configures it), and the policies AWS evaluates for it.
 */
export interface ServiceCall {
  /** What a reader should recognise, e.g. "Firehose invokes the audit processor". */
  what: string;
  request: IamRequest;
  identity?: PolicyStatement[];
  resource?: PolicyDocument;
  /** Whether AWS must allow it (true) or must refuse it (false: least privilege, checked too). */
  allowed: boolean;
}

const STREAM_READS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"];
/** A sample execution day, for object keys and log streams. */
const DAY = { year: "2026", month: "11", day: "30", hour: "12" };

const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
const firehoseArn = (name: string) => `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/${name}`;
const pipeArn = (name: string) => `arn:aws:pipes:${REGION}:${ACCOUNT}:pipe/${name}`;
/** The name Pulumi gives a resource on AWS: its logical name and a random suffix (the mocks keep the bare name). */
const autonamed = (name: string) => `${name}-1a2b3c4`;
const functionNameOfArn = (arn: string) => /:function:([^:/]+)/.exec(arn)?.[1] ?? arn;

function bucketPolicy(resources: RecordedResource[], bucket: RecordedResource): PolicyDocument {
  const policy = ofType(resources, "aws:s3/bucketPolicy:BucketPolicy").find(
    (p) => p.inputs.bucket === `${bucket.name}-id`,
  );
  if (policy === undefined) throw new Error(`bucket ${bucket.name} has no policy`);
  return JSON.parse(policy.inputs.policy) as PolicyDocument;
}

const bucketByArn = (resources: RecordedResource[], arn: string) =>
  ofType(resources, "aws:s3/bucket:Bucket").find((b) => `arn:aws:s3:::${b.name}-bucket` === arn) ??
  (() => {
    throw new Error(`no bucket has the ARN ${arn}`);
  })();

/** Another account, whose resources must not get this program's roles through a shared service. */
export const OTHER_ACCOUNT = "210987654321";

/**
 * A role assumed by a service for one of the program's resources (`sourceArn`): the trust policy
 * must let that service assume it with the keys the service sends (`aws:SourceAccount`,
 * `aws:SourceArn`, and `sts:ExternalId` for Firehose), and refuse it for another account's
 * resource (the confused deputy).
 */
function assumes(what: string, service: string, role: RecordedResource, sourceArn?: string): ServiceCall[] {
  const request = (account: string, arn = sourceArn) => ({
    principal: service,
    action: "sts:AssumeRole",
    resource: roleArn(role.name),
    context: {
      "aws:SourceAccount": account,
      ...(arn === undefined ? {} : { "aws:SourceArn": arn.replace(ACCOUNT, account) }),
      ...(service === "firehose.amazonaws.com" ? { "sts:ExternalId": account } : {}),
    },
  });
  return [
    {
      what: `${what}: ${service} assumes ${role.name}`,
      request: request(ACCOUNT),
      resource: trustPolicy(role),
      allowed: true,
    },
    {
      what: `${what}: ${service} acting for another account cannot assume ${role.name}`,
      request: request(OTHER_ACCOUNT),
      resource: trustPolicy(role),
      allowed: false,
    },
  ];
}

function asRole(what: string, resources: RecordedResource[], role: RecordedResource) {
  const identity = roleStatements(resources, role);
  return (
    action: string,
    resource: string,
    extra: { resource?: PolicyDocument; context?: Record<string, string>; allowed?: boolean } = {},
  ): ServiceCall => ({
    what,
    request: { principal: roleArn(role.name), action, resource, context: extra.context },
    identity,
    resource: extra.resource,
    allowed: extra.allowed ?? true,
  });
}

/** Lambda itself, with each function's role: starting it and writing its logs. */
export function lambdaServiceCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:lambda/function:Function").flatMap((fn) => {
    const role = roleNamed(resources, fn.inputs.role);
    const call = asRole(`Lambda runs ${fn.name}`, resources, role);
    const stream = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${fn.inputs.loggingConfig.logGroup}:log-stream:${DAY.year}/${DAY.month}/${DAY.day}/[$LATEST]0123456789abcdef`;
    const assumeWith = (context: Record<string, string>) => ({
      principal: "lambda.amazonaws.com",
      action: "sts:AssumeRole",
      resource: roleArn(role.name),
      context,
    });
    return [
      ...assumes(`Lambda runs ${fn.name}`, "lambda.amazonaws.com", role, fnArn(fn.name)),
      // Lambda documents no source keys for an execution role: without them the role still works.
      {
        what: `Lambda runs ${fn.name}: Lambda assumes ${role.name} naming no source`,
        request: assumeWith({}),
        resource: trustPolicy(role),
        allowed: true,
      },
      {
        what: `Lambda runs ${fn.name}: a function of this account in another region cannot assume ${role.name}`,
        request: assumeWith({
          "aws:SourceAccount": ACCOUNT,
          "aws:SourceArn": fnArn(fn.name).replace(`:${REGION}:`, ":us-east-1:"),
        }),
        resource: trustPolicy(role),
        allowed: false,
      },
      call("logs:CreateLogStream", stream),
      call("logs:PutLogEvents", stream),
      // Active tracing: Lambda's X-Ray daemon sends segments with the role (no resource-level permissions).
      ...(fn.inputs.tracingConfig?.mode === "Active"
        ? [call("xray:PutTraceSegments", "*"), call("xray:PutTelemetryRecords", "*")]
        : []),
    ];
  });
}

/** Each event source mapping, with its function's role: reading the stream, parking failures. */
export function eventSourceMappingCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:lambda/eventSourceMapping:EventSourceMapping").flatMap((mapping) => {
    const fn = single(resources, "aws:lambda/function:Function", mapping.inputs.functionName);
    const call = asRole(`${mapping.name} feeds ${fn.name}`, resources, roleNamed(resources, fn.inputs.role));
    const dlq: string | undefined = mapping.inputs.destinationConfig?.onFailure?.destinationArn;
    // A queue: Lambda's pollers receive, delete and read the queue's attributes with the function's role.
    if (String(mapping.inputs.eventSourceArn).startsWith("arn:aws:sqs:")) {
      return ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"].map((action) =>
        call(action, mapping.inputs.eventSourceArn),
      );
    }
    return [
      ...STREAM_READS.map((action) => call(action, mapping.inputs.eventSourceArn)),
      // ListStreams names no stream: IAM only accepts "*" for it.
      call("dynamodb:ListStreams", "*"),
      ...(dlq === undefined ? [] : [call("sqs:SendMessage", dlq)]),
    ];
  });
}

/** Firehose with its role: the processor at exactly the ARN the stream names, and the bucket. */
export function firehoseCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream").flatMap((stream) => {
    const s3 = stream.inputs.extendedS3Configuration;
    const role = roleNamed(resources, s3.roleArn);
    const call = asRole(`Firehose ${stream.name}`, resources, role);
    const policy = bucketPolicy(resources, bucketByArn(resources, s3.bucketArn));
    const processors: Array<{ parameters: Array<{ parameterName: string; parameterValue: string }> }> =
      s3.processingConfiguration?.processors ?? [];
    const processorArns = processors.flatMap((p) =>
      p.parameters.filter((q) => q.parameterName === "LambdaArn").map((q) => q.parameterValue),
    );
    const key = (prefix: string) =>
      `${s3.bucketArn}/${prefix
        .replace("!{timestamp:yyyy}", DAY.year)
        .replace("!{timestamp:MM}", DAY.month)
        .replace("!{timestamp:dd}", DAY.day)
        .replace("!{timestamp:HH}", DAY.hour)
        .replace("!{firehose:error-output-type}", "processing-failed")}delivery-1`;
    const objects = [key(s3.prefix), key(s3.errorOutputPrefix)];
    return [
      ...assumes(`Firehose ${stream.name}`, "firehose.amazonaws.com", role, firehoseArn(autonamed(stream.name))),
      // Firehose reads the processor's configuration, then invokes it, at the ARN it was given.
      ...processorArns.flatMap((arn) => [
        call("lambda:GetFunctionConfiguration", arn),
        call("lambda:InvokeFunction", arn),
      ]),
      // AWS's documented S3-destination permissions for Firehose.
      ...["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"].map((action) =>
        call(action, s3.bucketArn, { resource: policy }),
      ),
      ...objects.flatMap((object) => [
        call("s3:PutObject", object, { resource: policy }),
        call("s3:AbortMultipartUpload", object, { resource: policy }),
      ]),
    ];
  });
}

/** Each EventBridge Pipe with its role: reading its stream, invoking its enrichment, writing its target and its DLQ. */
export function pipeCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:pipes/pipe:Pipe").flatMap((pipe) => {
    const role = roleNamed(resources, pipe.inputs.roleArn);
    const call = asRole(`Pipe ${pipe.name}`, resources, role);
    const source = pipe.inputs.sourceParameters.dynamodbStreamParameters;
    if (!String(pipe.inputs.target).includes(":firehose:")) throw new Error(`${pipe.name}: teach pipeCalls its target`);
    return [
      ...assumes(`Pipe ${pipe.name}`, "pipes.amazonaws.com", role, pipeArn(autonamed(pipe.name))),
      // Nor for another pipe of the account: only this pipeline's.
      {
        what: `Pipe ${pipe.name}: another pipe of the account cannot assume ${role.name}`,
        request: {
          principal: "pipes.amazonaws.com",
          action: "sts:AssumeRole",
          resource: roleArn(role.name),
          context: { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": pipeArn("someone-elses-pipe") },
        },
        resource: trustPolicy(role),
        allowed: false,
      },
      ...STREAM_READS.map((action) => call(action, pipe.inputs.source)),
      call("dynamodb:ListStreams", "*"),
      call("firehose:PutRecordBatch", pipe.inputs.target),
      call("sqs:SendMessage", source.deadLetterConfig.arn),
      // Its enrichment, invoked with the pipe's role before the target.
      ...(pipe.inputs.enrichment === undefined ? [] : [call("lambda:InvokeFunction", pipe.inputs.enrichment)]),
    ];
  });
}

/**
 * Each CloudWatch Logs subscription filter with its role: Logs assumes it for the log group
 * (`aws:SourceArn` a log ARN of the account, as AWS's documented trust names it) and puts records
 * to the destination stream; another account's log group cannot use the role.
 */
export function logSubscriptionCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter").flatMap((filter) => {
    const role = roleNamed(resources, filter.inputs.roleArn);
    const call = asRole(`CloudWatch Logs ${filter.name}`, resources, role);
    const logGroupArn = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${filter.inputs.logGroup}:*`;
    if (!String(filter.inputs.destinationArn).includes(":firehose:")) {
      throw new Error(`${filter.name}: teach logSubscriptionCalls its destination`);
    }
    return [
      ...assumes(`CloudWatch Logs ${filter.name}`, "logs.amazonaws.com", role, logGroupArn),
      // AWS documents only aws:SourceArn for this trust: the role works without aws:SourceAccount.
      {
        what: `CloudWatch Logs ${filter.name}: Logs assumes ${role.name} naming only its log group`,
        request: {
          principal: "logs.amazonaws.com",
          action: "sts:AssumeRole",
          resource: roleArn(role.name),
          context: { "aws:SourceArn": logGroupArn },
        },
        resource: trustPolicy(role),
        allowed: true,
      },
      call("firehose:PutRecord", filter.inputs.destinationArn),
      call("firehose:PutRecord", firehoseArn("someone-elses-stream"), { allowed: false }),
    ];
  });
}

/** A Lambda function's resource policy, as AddPermission writes it from the program's permissions. */
function lambdaResourcePolicy(resources: RecordedResource[], functionName: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: ofType(resources, "aws:lambda/permission:Permission")
      .filter((p) => p.inputs.function === functionName)
      .map((p) => ({
        Effect: "Allow",
        Principal: { Service: p.inputs.principal },
        Action: p.inputs.action,
        Resource: fnArn(functionName),
        ...(p.inputs.sourceArn === undefined
          ? {}
          : { Condition: { ArnLike: { "AWS:SourceArn": p.inputs.sourceArn } } }),
      })),
  };
}

/** Every (execute-api source ARN → function) pair API Gateway invokes, read from the APIs as deployed. */
export function apiGatewayInvocations(
  resources: RecordedResource[],
): Array<{ route: string; sourceArn: string; fn: string }> {
  const invocations: Array<{ route: string; sourceArn: string; fn: string }> = [];
  for (const api of ofType(resources, "aws:apigateway/restApi:RestApi")) {
    const exec = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.name}-id`;
    const stage = single(resources, "aws:apigateway/stage:Stage").inputs.stageName;
    const body = JSON.parse(api.inputs.body);
    for (const [path, methods] of Object.entries<
      Record<string, { "x-amazon-apigateway-integration": { uri: string; type: string } }>
    >(body.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        // Only Lambda proxy routes invoke a function; the console's routes read S3 (consoleCalls).
        if (operation["x-amazon-apigateway-integration"].type !== "aws_proxy") continue;
        const concrete = path.replace(/\{[^}]+\}/g, "new-checkout");
        invocations.push({
          route: `${method.toUpperCase()} ${path}`,
          sourceArn: `${exec}/${stage}/${method.toUpperCase()}${concrete}`,
          fn: functionNameOfArn(operation["x-amazon-apigateway-integration"].uri),
        });
      }
    }
    for (const scheme of Object.values<{ "x-amazon-apigateway-authorizer"?: { authorizerUri: string } }>(
      body.components?.securitySchemes ?? {},
    )) {
      const authorizer = scheme["x-amazon-apigateway-authorizer"];
      if (authorizer !== undefined) {
        invocations.push({
          route: "REST authorizer",
          sourceArn: `${exec}/authorizers/abc123`,
          fn: functionNameOfArn(authorizer.authorizerUri),
        });
      }
    }
  }
  // Every route the catalogue defines is in the document (so none is left uncovered here).
  for (const route of ROUTES) {
    if (!invocations.some((i) => i.route === `${route.method} ${route.resource}`)) {
      throw new Error(`route ${route.method} ${route.resource} is missing from the REST API document`);
    }
  }
  for (const api of ofType(resources, "aws:apigatewayv2/api:Api")) {
    const exec = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.name}-id`;
    const stage = ofType(resources, "aws:apigatewayv2/stage:Stage").find((s) => s.inputs.apiId === `${api.name}-id`);
    for (const route of ofType(resources, "aws:apigatewayv2/route:Route").filter(
      (r) => r.inputs.apiId === `${api.name}-id`,
    )) {
      const integration = ofType(resources, "aws:apigatewayv2/integration:Integration").find(
        (i) => route.inputs.target === `integrations/${i.name}-id`,
      );
      if (integration === undefined) throw new Error(`route ${route.inputs.routeKey} has no integration`);
      invocations.push({
        route: `WebSocket ${route.inputs.routeKey}`,
        sourceArn: `${exec}/${stage?.inputs.name}/${route.inputs.routeKey}`,
        fn: functionNameOfArn(integration.inputs.integrationUri),
      });
    }
    for (const authorizer of ofType(resources, "aws:apigatewayv2/authorizer:Authorizer").filter(
      (a) => a.inputs.apiId === `${api.name}-id`,
    )) {
      invocations.push({
        route: "WebSocket authorizer",
        sourceArn: `${exec}/authorizers/abc123`,
        fn: functionNameOfArn(authorizer.inputs.authorizerUri),
      });
    }
  }
  return invocations;
}

/**
 * API Gateway invoking each function for each of its routes (allowed), and for every route of
 * another function (refused: a permission wider than its routes would let one route run another's
 * code).
 */
export function apiGatewayCalls(resources: RecordedResource[]): ServiceCall[] {
  const invocations = apiGatewayInvocations(resources);
  const functions = [...new Set(invocations.map((i) => i.fn))];
  return invocations.flatMap((invocation) =>
    functions.map((fn) => ({
      what: `API Gateway invokes ${fn} for ${invocation.route}`,
      request: {
        principal: "apigateway.amazonaws.com",
        action: "lambda:InvokeFunction",
        resource: fnArn(fn),
        context: { "aws:SourceArn": invocation.sourceArn, "aws:SourceAccount": ACCOUNT },
      },
      resource: lambdaResourcePolicy(resources, fn),
      allowed: fn === invocation.fn,
    })),
  );
}

/** CloudWatch alarms publishing to their topic: the topic policy and the topic key's policy. */
export function alarmPublishCalls(resources: RecordedResource[]): ServiceCall[] {
  const calls: ServiceCall[] = [];
  const topics = ofType(resources, "aws:sns/topic:Topic");
  const targets = new Set(
    ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").flatMap((a) => a.inputs.alarmActions),
  );
  for (const target of targets) {
    const topic = topics.find((t) => `arn:aws:sns:${REGION}:${ACCOUNT}:${t.name}` === target);
    if (topic === undefined) throw new Error(`an alarm notifies ${target}, which is not a topic of this program`);
    const topicPolicy = ofType(resources, "aws:sns/topicPolicy:TopicPolicy").find((p) => p.inputs.arn === target);
    const key = ofType(resources, "aws:kms/key:Key").find(
      (k) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.name}-id` === topic.inputs.kmsMasterKeyId,
    );
    if (topicPolicy === undefined || key === undefined)
      throw new Error(`${topic.name} lacks a topic policy or its key`);
    const context = {
      "aws:SourceAccount": ACCOUNT,
      "aws:SourceArn": `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:any`,
    };
    const request = (action: string, resource: string) => ({
      principal: "cloudwatch.amazonaws.com",
      action,
      resource,
      context,
    });
    calls.push({
      what: `CloudWatch publishes an alarm to ${topic.name}`,
      request: request("sns:Publish", target),
      resource: JSON.parse(topicPolicy.inputs.policy),
      allowed: true,
    });
    // Publishing to an encrypted topic: the publisher must be able to use its key.
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
      calls.push({
        what: `CloudWatch encrypts the alarm for ${topic.name}`,
        request: request(action, topic.inputs.kmsMasterKeyId),
        resource: JSON.parse(key.inputs.policy),
        allowed: true,
      });
    }
    calls.push({
      what: `another account's CloudWatch cannot publish to ${topic.name}`,
      request: { ...request("sns:Publish", target), context: { ...context, "aws:SourceAccount": "210987654321" } },
      resource: JSON.parse(topicPolicy.inputs.policy),
      allowed: false,
    });
  }
  return calls;
}

/** AWS Config: the remediation automation's role, and the recorder's delivery when created. */
export function configCalls(resources: RecordedResource[]): ServiceCall[] {
  const calls: ServiceCall[] = [];
  for (const fix of ofType(resources, "aws:cfg/remediationConfiguration:RemediationConfiguration")) {
    const assumeRole = fix.inputs.parameters.find((p: { name: string }) => p.name === "AutomationAssumeRole");
    const role = roleNamed(resources, assumeRole.staticValue);
    const call = asRole(`the ${fix.inputs.targetId} automation`, resources, role);
    const anyBucket = "arn:aws:s3:::someone-elses-public-bucket";
    calls.push(
      ...assumes(
        `the ${fix.inputs.targetId} automation`,
        "ssm.amazonaws.com",
        role,
        `arn:aws:ssm:${REGION}:${ACCOUNT}:automation-execution/0d0ea2d5-1c2e-4b6f-9a3b-6f0d3c1e2a4b`,
      ),
      ...["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"].map((action) =>
        call(action, anyBucket, { context: { "aws:ResourceAccount": ACCOUNT } }),
      ),
      call("s3:PutBucketPublicAccessBlock", anyBucket, {
        context: { "aws:ResourceAccount": "210987654321" },
        allowed: false,
      }),
    );
  }
  for (const channel of ofType(resources, "aws:cfg/deliveryChannel:DeliveryChannel")) {
    const recorder = single(resources, "aws:cfg/recorder:Recorder");
    const role = roleNamed(resources, recorder.inputs.roleArn);
    const bucketArn = `arn:aws:s3:::${channel.inputs.s3BucketName}`;
    const policy = bucketPolicy(resources, bucketByArn(resources, bucketArn));
    const call = asRole("the Config recorder delivers", resources, role);
    calls.push(
      ...assumes("the Config recorder", "config.amazonaws.com", role),
      call("s3:GetBucketAcl", bucketArn, { resource: policy }),
      call("s3:PutObject", `${bucketArn}/AWSLogs/${ACCOUNT}/Config/${REGION}/2026/11/30/ConfigHistory/x.json.gz`, {
        resource: policy,
        context: { "s3:x-amz-acl": "bucket-owner-full-control" },
      }),
    );
  }
  return calls;
}

/**
 * EventBridge Scheduler running a schedule the API function creates: it assumes the target role
 * the function passes (for this stack's schedule group only), invokes the runner with it and
 * dead-letters with it; the role reaches nothing else, and the function can pass it to no other service.
 */
export function schedulerCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:lambda/function:Function")
    .filter((fn) => fn.inputs.environment?.variables?.SCHEDULE_ROLE_ARN !== undefined)
    .flatMap((fn) => {
      const env = fn.inputs.environment.variables as Record<string, string>;
      // The runner arms a rollout's next step with itself as the target (its own ARN, from its invocation).
      const target = env.SCHEDULE_TARGET_ARN ?? fnArn(fn.name);
      const role = roleNamed(resources, env.SCHEDULE_ROLE_ARN);
      const groupArn = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${env.SCHEDULE_GROUP_NAME}`;
      const call = asRole(`EventBridge Scheduler runs a schedule of ${fn.name}`, resources, role);
      const passes = asRole(`${fn.name} creates a schedule`, resources, roleNamed(resources, fn.inputs.role));
      return [
        ...assumes(`EventBridge Scheduler runs a schedule of ${fn.name}`, "scheduler.amazonaws.com", role, groupArn),
        {
          what: `another schedule group of the account cannot use ${role.name}`,
          request: {
            principal: "scheduler.amazonaws.com",
            action: "sts:AssumeRole",
            resource: roleArn(role.name),
            context: {
              "aws:SourceAccount": ACCOUNT,
              "aws:SourceArn": `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/someone-elses-group`,
            },
          },
          resource: trustPolicy(role),
          allowed: false,
        },
        call("lambda:InvokeFunction", target),
        call("sqs:SendMessage", env.SCHEDULE_DEAD_LETTER_ARN),
        call("lambda:InvokeFunction", fnArn("someone-elses-function"), { allowed: false }),
        // The target role goes to EventBridge Scheduler only, and no other role goes anywhere.
        passes("iam:PassRole", env.SCHEDULE_ROLE_ARN, {
          context: { "iam:PassedToService": "lambda.amazonaws.com" },
          allowed: false,
        }),
        passes("iam:PassRole", roleArn("someone-elses-role"), {
          context: { "iam:PassedToService": "scheduler.amazonaws.com" },
          allowed: false,
        }),
        passes("scheduler:CreateSchedule", `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/any`, {
          allowed: false,
        }),
      ];
    });
}

/**
 * EventBridge invoking the schedule runner from the rollouts' guard rule (CloudWatch alarm state
 * changes): the function's resource policy allows that rule, and no other rule of the account.
 */
export function guardRuleCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:cloudwatch/eventTarget:EventTarget")
    .filter((target) => String(target.inputs.arn).includes(":function:"))
    .flatMap((target) => {
      const functionName = functionNameOfArn(target.inputs.arn);
      const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT}:rule/${target.inputs.rule}`;
      const invoke = (sourceArn: string, allowed: boolean): ServiceCall => ({
        what: `EventBridge invokes ${functionName} from ${sourceArn === ruleArn ? "its rule" : "another rule"}`,
        request: {
          principal: "events.amazonaws.com",
          action: "lambda:InvokeFunction",
          resource: fnArn(functionName),
          context: { "aws:SourceArn": sourceArn, "aws:SourceAccount": ACCOUNT },
        },
        resource: lambdaResourcePolicy(resources, functionName),
        allowed,
      });
      return [invoke(ruleArn, true), invoke(`arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-elses-rule`, false)];
    });
}

/** Everything AWS services do for the program, as data. */
/**
 * API Gateway reading the web console's files from S3 with its role (the console routes'
 * integration credentials): every object under `console/` the routes name, and nothing else.
 */
export function consoleCalls(resources: RecordedResource[]): ServiceCall[] {
  return ofType(resources, "aws:apigateway/restApi:RestApi").flatMap((api) => {
    const body = JSON.parse(api.inputs.body);
    const integrations = Object.values<
      Record<string, { "x-amazon-apigateway-integration": { type: string; uri: string; credentials?: string } }>
    >(body.paths)
      .flatMap((methods) => Object.values(methods).map((op) => op["x-amazon-apigateway-integration"]))
      .filter((integration) => integration.type === "aws" && integration.uri.includes(":s3:path/"));
    return integrations.flatMap((integration) => {
      const role = roleNamed(resources, integration.credentials ?? "");
      const call = asRole("API Gateway reads the web console", resources, role);
      const [bucketName, ...key] = integration.uri.split(":s3:path/")[1].split("/");
      const bucket = ofType(resources, "aws:s3/bucket:Bucket").find((b) => `${b.name}-bucket` === bucketName);
      if (bucket === undefined) throw new Error(`no bucket of the program is named ${bucketName}`);
      const policy = bucketPolicy(resources, bucket);
      const object = `arn:aws:s3:::${bucketName}/${key.join("/").replace("{file}", "app-0123ABCD.js")}`;
      return [
        ...assumes("API Gateway reads the web console", "apigateway.amazonaws.com", role),
        call("s3:GetObject", object, { resource: policy }),
        // Least privilege: nothing outside the console's prefix, and no writes.
        call("s3:GetObject", `arn:aws:s3:::${bucketName}/other/secret.json`, { resource: policy, allowed: false }),
        call("s3:PutObject", object, { resource: policy, allowed: false }),
      ];
    });
  });
}

export function serviceCalls(resources: RecordedResource[]): ServiceCall[] {
  return [
    ...consoleCalls(resources),
    ...lambdaServiceCalls(resources),
    ...eventSourceMappingCalls(resources),
    ...firehoseCalls(resources),
    ...pipeCalls(resources),
    ...logSubscriptionCalls(resources),
    ...apiGatewayCalls(resources),
    ...alarmPublishCalls(resources),
    ...configCalls(resources),
    ...schedulerCalls(resources),
    ...guardRuleCalls(resources),
  ];
}
