import type { APIGatewayProxyEvent } from "aws-lambda";

export interface EventSpec {
  method: string;
  resource: string;
  /** The request path; defaults to the resource with params filled in. */
  path?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  /** The REST authorizer's context; default the admin token's. `null`: no authorizer ran. */
  authorizer?: Record<string, string> | null;
}

export const ADMIN_CONTEXT = { tokenId: "admin", scopes: "read write" } as const;

/** An API Gateway REST proxy event as Lambda receives it. */
export function proxyEvent(spec: EventSpec): APIGatewayProxyEvent {
  const path = spec.path ?? spec.resource.replace(/\{(\w+)\}/g, (_, name: string) => spec.params?.[name] ?? "");
  return {
    resource: spec.resource,
    path,
    httpMethod: spec.method,
    headers: { "Content-Type": "application/json", ...spec.headers },
    multiValueHeaders: {},
    queryStringParameters: spec.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: spec.params ?? null,
    stageVariables: null,
    body: spec.body === undefined ? null : typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body),
    isBase64Encoded: false,
    requestContext: {
      authorizer: spec.authorizer === undefined ? { ...ADMIN_CONTEXT } : spec.authorizer,
      httpMethod: spec.method,
      // API Gateway's default endpoint: the requested path starts with the stage.
      path: `/dev${path}`,
      requestId: "test",
      resourcePath: spec.resource,
      stage: "dev",
    } as APIGatewayProxyEvent["requestContext"],
  };
}
