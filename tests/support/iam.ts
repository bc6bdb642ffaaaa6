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
  context?: Record<string, string>;
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

/**
 * The IAM action and resource ARN of a captured AWS request, as AWS would authorize it once
 * deployed: local names and endpoints are mapped back to the program's (via the function's
 * environment), then the ARN is built the way the service documents it.
 */
export function toIamRequest(call: WireCall): { action: string; resource: string } {
  const target = call.headers["x-amz-target"];
  const body = call.body === "" ? {} : (JSON.parse(call.body) as Record<string, unknown>);
  const dynamo = /^DynamoDB_\d+\.(\w+)$/.exec(target ?? "");
  if (dynamo !== null) {
    const table = substitute(String(body.TableName), call.substitutions);
    return { action: `dynamodb:${dynamo[1]}`, resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}` };
  }
  const ssm = /^AmazonSSM\.(\w+)$/.exec(target ?? "");
  if (ssm !== null) {
    // A parameter name starts with "/"; its ARN is `parameter` + name.
    const name = substitute(String(body.Name), call.substitutions);
    return { action: `ssm:${ssm[1]}`, resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}` };
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
    const { action, resource } = toIamRequest(call);
    const decision = await simulate({ principal, action, resource }, { identity: statements });
    if (decision !== "Allowed") denied.push(`${functionName} may not ${action} on ${resource} (${decision})`);
  }
  assert.deepEqual(denied, [], `denied on AWS:\n${denied.join("\n")}`);
}
