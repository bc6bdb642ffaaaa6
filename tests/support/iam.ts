import { strict as assert } from "node:assert";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { WireCall } from "./awsCalls";
import { ACCOUNT, ofType, REGION, type RecordedResource } from "./pulumiMocks";

/** An IAM policy statement as the program writes it. */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

/** One request to AWS, as IAM evaluates it. */
export interface IamRequest {
  /** A role ARN, or a service principal such as `apigateway.amazonaws.com`. */
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

/** Runs the real policy simulator: identity policies of the caller and the resource's own policy. */
export async function simulate(
  request: IamRequest,
  policies: { identity?: PolicyStatement[]; resource?: PolicyDocument },
): Promise<"Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"> {
  const response = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: { "aws:SecureTransport": "true", ...request.context },
      },
      identityPolicies:
        policies.identity === undefined
          ? []
          : [{ name: "inline", policy: { Version: "2012-10-17", Statement: policies.identity } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policies.resource,
    },
    {},
  );
  if (response.resultType === "error") {
    throw new Error(
      `the simulator refused ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`,
    );
  }
  return response.overallResult as "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";
}

export const roleArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** The role a resource input names (`arn:aws:iam::…:role/<name>`, as the mocks resolve it). */
export function roleNamed(resources: RecordedResource[], arn: string): RecordedResource {
  const role = ofType(resources, "aws:iam/role:Role").find((r) => roleArn(r.name) === arn);
  if (role === undefined) throw new Error(`no role of the program has the ARN ${arn}`);
  return role;
}

/** Every statement of the role's inline policies. Managed policy attachments are returned apart. */
export function roleStatements(resources: RecordedResource[], role: RecordedResource): PolicyStatement[] {
  return ofType(resources, "aws:iam/rolePolicy:RolePolicy")
    .filter((policy) => policy.inputs.role === `${role.name}-id` || policy.inputs.role === role.name)
    .flatMap((policy) => (JSON.parse(policy.inputs.policy) as PolicyDocument).Statement);
}

export function trustPolicy(role: RecordedResource): PolicyDocument {
  const policy = role.inputs.assumeRolePolicy;
  return (typeof policy === "string" ? JSON.parse(policy) : policy) as PolicyDocument;
}

const asList = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The actions a role's inline policies allow (none use wildcards: the hardening tests forbid them). */
export function grantedActions(statements: PolicyStatement[]): string[] {
  return [...new Set(statements.filter((s) => s.Effect === "Allow").flatMap((s) => asList(s.Action)))];
}

function substitute(value: string, substitutions: Array<[string, string]>): string {
  for (const [local, program] of substitutions) {
    if (value === local) return program;
    // Endpoints are prefixes of the URLs sent to them; names must match whole.
    if (/^https?:\/\//.test(local) && value.startsWith(local)) return program + value.slice(local.length);
  }
  return value;
}

/** Words of DynamoDB's expression grammar that are not attribute names. */
const EXPRESSION_WORDS = new Set(
  [
    "SET REMOVE ADD DELETE AND OR NOT IN BETWEEN",
    "attribute_exists attribute_not_exists attribute_type begins_with contains size if_not_exists list_append",
  ]
    .join(" ")
    .split(" ")
    .map((word) => word.toLowerCase()),
);

/**
 * The top-level attribute names one DynamoDB item request touches, as the `dynamodb:Attributes`
 * condition key sees them: key, item, and every name in its expressions (`#n` resolved).
 */
function dynamoAttributes(request: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const field of ["Key", "Item"]) {
    const value = request[field];
    if (value !== null && typeof value === "object") for (const name of Object.keys(value)) names.add(name);
  }
  const placeholders = (request.ExpressionAttributeNames ?? {}) as Record<string, string>;
  for (const field of ["UpdateExpression", "ConditionExpression", "ProjectionExpression", "FilterExpression"]) {
    const expression = request[field];
    if (typeof expression !== "string") continue;
    // `:values` are not names; a path's first element is the top-level name.
    for (const [, token] of expression.matchAll(/(?<![:\w.#\]])(#?[A-Za-z_]\w*)/g)) {
      if (token.startsWith("#")) names.add(placeholders[token] ?? token);
      else if (!EXPRESSION_WORDS.has(token.toLowerCase())) names.add(token);
    }
  }
  return [...names];
}

/** One item operation of a DynamoDB request, as IAM authorizes it. */
function dynamoItemRequest(
  action: string,
  request: Record<string, unknown>,
  substitutions: Array<[string, string]>,
): Omit<IamRequest, "principal"> {
  const table = substitute(String(request.TableName), substitutions);
  const context: Record<string, string | string[]> = {};
  if (["GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"].includes(action)) {
    context["dynamodb:Attributes"] = dynamoAttributes(request);
    if (typeof request.ReturnValues === "string") context["dynamodb:ReturnValues"] = request.ReturnValues;
  }
  // A Query or Scan of an index is authorized on the index's ARN, not the table's.
  const index = typeof request.IndexName === "string" ? `/index/${request.IndexName}` : "";
  return {
    action: `dynamodb:${action}`,
    resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}${index}`,
    context,
  };
}

/** What each element of `TransactItems` is authorized as (there is no IAM action for the transaction). */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
  Get: "GetItem",
};

/**
 * The IAM authorizations a captured AWS request needs, as AWS would check them once deployed:
 * local names and endpoints are mapped back to the program's (via the function's environment),
 * then each action and ARN is built the way the service documents it. A DynamoDB transaction is
 * authorized item by item (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`,
 * `GetItem` on each item's table), with the `dynamodb:Attributes` each item touches.
 */
export function toIamRequests(call: WireCall): Array<Omit<IamRequest, "principal">> {
  const target = call.headers["x-amz-target"];
  const body = call.body === "" ? {} : (JSON.parse(call.body) as Record<string, unknown>);
  const dynamo = /^DynamoDB_\d+\.(\w+)$/.exec(target ?? "");
  if (dynamo !== null) {
    const operation = dynamo[1];
    if (operation === "TransactWriteItems" || operation === "TransactGetItems") {
      return (body.TransactItems as Array<Record<string, Record<string, unknown>>>).map((item) => {
        const [kind, request] = Object.entries(item)[0];
        const action = TRANSACT_ITEM_ACTIONS[kind];
        assert.ok(action, `${call.functionName} sent a transaction item of unknown kind ${kind}`);
        return dynamoItemRequest(action, request, call.substitutions);
      });
    }
    return [dynamoItemRequest(operation, body, call.substitutions)];
  }
  const scheduler = schedulerRequests(call);
  if (scheduler !== undefined) return scheduler;
  return [toIamRequest(call)];
}

/**
 * EventBridge Scheduler (REST-JSON: `POST`/`DELETE /schedules/{Name}`, the group in the body or
 * `?groupName=`), authorized on the schedule's ARN in its group. CreateSchedule hands the schedule
 * its target's role: that is an `iam:PassRole` of the role to `scheduler.amazonaws.com` too.
 */
function schedulerRequests(call: WireCall): Array<Omit<IamRequest, "principal">> | undefined {
  const url = new URL(call.url);
  const schedule = /^\/schedules\/([^/]+)$/.exec(url.pathname);
  if (schedule === null || call.headers["x-amz-target"] !== undefined) return undefined;
  const body = call.body === "" ? {} : (JSON.parse(call.body) as { GroupName?: string; Target?: { RoleArn?: string } });
  const name = decodeURIComponent(schedule[1]);
  const group = body.GroupName ?? url.searchParams.get("groupName") ?? "default";
  const resource = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/${name}`;
  const action = { POST: "CreateSchedule", DELETE: "DeleteSchedule", GET: "GetSchedule", PUT: "UpdateSchedule" }[
    call.method
  ];
  assert.ok(action, `${call.functionName} sent ${call.method} ${url.pathname} to EventBridge Scheduler`);
  const requests: Array<Omit<IamRequest, "principal">> = [{ action: `scheduler:${action}`, resource }];
  if (body.Target?.RoleArn !== undefined) {
    requests.push({
      action: "iam:PassRole",
      resource: body.Target.RoleArn,
      context: { "iam:PassedToService": "scheduler.amazonaws.com" },
    });
  }
  return requests;
}

/** The single IAM action and resource of a request to SSM, EventBridge, SQS, Lambda or the Management API. */
function toIamRequest(call: WireCall): { action: string; resource: string } {
  const target = call.headers["x-amz-target"];
  const body = call.body === "" ? {} : (JSON.parse(call.body) as Record<string, unknown>);
  const ssm = /^AmazonSSM\.(\w+)$/.exec(target ?? "");
  if (ssm !== null) {
    // A parameter name starts with "/"; its ARN is `parameter` + name.
    const name = substitute(String(body.Name), call.substitutions);
    return { action: `ssm:${ssm[1]}`, resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}` };
  }
  // EventBridge PutEvents: authorized on each entry's bus (all of one request's name one bus here).
  if (target === "AWSEvents.PutEvents") {
    const buses = [
      ...new Set((body.Entries as Array<{ EventBusName?: string }>).map((e) => e.EventBusName ?? "default")),
    ];
    assert.equal(buses.length, 1, `${call.functionName} put events on several buses in one request`);
    return { action: "events:PutEvents", resource: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${buses[0]}` };
  }
  // SQS (JSON protocol): a batch is authorized as its single action; the queue from its URL.
  const sqs = /^AmazonSQS\.(\w+)$/.exec(target ?? "");
  if (sqs !== null) {
    const queue = new URL(substitute(String(body.QueueUrl), call.substitutions)).pathname.split("/").at(-1);
    return { action: `sqs:${sqs[1].replace(/Batch$/, "")}`, resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queue}` };
  }
  // Lambda Invoke: POST /2015-03-31/functions/{name or ARN}/invocations
  const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(call.url).pathname);
  if (invoke !== null) {
    const name = substitute(decodeURIComponent(invoke[1]), call.substitutions);
    const resource = name.startsWith("arn:") ? name : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    return { action: "lambda:InvokeFunction", resource };
  }
  // API Gateway Management API: https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/@connections/{id}
  const url = new URL(substitute(call.url, call.substitutions));
  const managementApi = /^([a-z0-9-]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/.exec(url.hostname);
  const connection = /^\/([^/]+)\/@connections\/([^/]+)$/.exec(url.pathname);
  if (managementApi !== null && connection !== null) {
    const [, stage, id] = connection;
    return {
      action: "execute-api:ManageConnections",
      resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${managementApi[1]}/${stage}/${call.method}/@connections/${id}`,
    };
  }
  throw new Error(
    `${call.functionName} sent a request this test cannot map to IAM (${call.method} ${call.url}, target ${target}): teach toIamRequest the service`,
  );
}

/** Simulates each call against the role's policies; fails naming function, action and resource. */
export async function assertCallsAllowed(
  functionName: string,
  principal: string,
  statements: PolicyStatement[],
  calls: WireCall[],
): Promise<void> {
  const denied: string[] = [];
  for (const call of calls) {
    for (const { action, resource, context } of toIamRequests(call)) {
      const decision = await simulate({ principal, action, resource, context }, { identity: statements });
      if (decision !== "Allowed") denied.push(`${functionName} may not ${action} on ${resource} (${decision})`);
    }
  }
  assert.deepEqual(denied, [], `denied on AWS:\n${denied.join("\n")}`);
}
