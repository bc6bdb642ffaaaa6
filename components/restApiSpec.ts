import { ROUTES, type RouteGroup } from "../handlers/routes";

/** A gateway response in the contract's error shape, for failures API Gateway answers itself. */
function gatewayResponse(status: number | undefined, code: string, message: string) {
  const template = JSON.stringify({ error: { code, message } })
    // messageString is already a quoted JSON string; responseType is a bare identifier.
    .replace('"$MESSAGE"', "$context.error.messageString")
    .replace("$TYPE", "$context.error.responseType");
  return {
    ...(status === undefined ? {} : { statusCode: status }),
    responseTemplates: { "application/json": template },
  };
}

export interface RestApiSpecArgs {
  title: string;
  /** Lambda invoke ARN of the function serving each route group. */
  integrations: Readonly<Record<RouteGroup, string>>;
}

/**
 * The REST API as an OpenAPI 3 document with API Gateway extensions, generated from the route
 * catalogue the local runtime also serves. One document means one deployment trigger (its hash)
 * and no per-method resources to wire in the right order.
 */
export function restApiSpec({ title, integrations }: RestApiSpecArgs): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const parameters = route.resource.includes("{flagName}")
      ? [{ name: "flagName", in: "path", required: true, schema: { type: "string" } }]
      : [];
    paths[route.resource] ??= {};
    paths[route.resource][route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${route.resource.replace(/[^A-Za-z]+/g, "_")}`,
      parameters,
      responses: {},
      "x-amazon-apigateway-integration": {
        type: "aws_proxy",
        httpMethod: "POST",
        uri: integrations[route.group],
        passthroughBehavior: "when_no_match",
      },
    };
  }
  return {
    openapi: "3.0.1",
    info: { title, version: "1" },
    paths,
    "x-amazon-apigateway-gateway-responses": {
      // API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
      MISSING_AUTHENTICATION_TOKEN: gatewayResponse(404, "ROUTE_NOT_FOUND", "no such route"),
      THROTTLED: gatewayResponse(429, "THROTTLED", "too many requests; retry with backoff"),
      REQUEST_TOO_LARGE: gatewayResponse(413, "PAYLOAD_TOO_LARGE", "$MESSAGE"),
      // No status on the defaults: each keeps the status API Gateway chose.
      DEFAULT_4XX: gatewayResponse(undefined, "$TYPE", "$MESSAGE"),
      DEFAULT_5XX: gatewayResponse(undefined, "INTERNAL", "internal error"),
    },
  };
}
