import { ROUTES, type RouteGroup } from "../handlers/routes";

/** A gateway response in the contract's error shape, for failures API Gateway answers itself. */
function gatewayResponse(status: number | undefined, code: string, message: string, corsOrigin?: string) {
  const template = JSON.stringify({ error: { code, message } })
    // messageString is already a quoted JSON string.
    .replace('"$MESSAGE"', "$context.error.messageString");
  return {
    ...(status === undefined ? {} : { statusCode: String(status) }),
    responseTemplates: { "application/json": template },
    // Lets a browser read a 401 or 429; a static value, so only possible for a single origin.
    ...(corsOrigin === undefined
      ? {}
      : {
          responseParameters: {
            "gatewayresponse.header.Access-Control-Allow-Origin": `'${corsOrigin}'`,
            "gatewayresponse.header.Vary": "'Origin'",
          },
        }),
  };
}

export interface RestApiSpecArgs {
  title: string;
  /** Lambda invoke ARN of the function serving each route group. */
  integrations: Readonly<Record<RouteGroup, string>>;
  /** Lambda invoke ARN of the REQUEST authorizer guarding every route that needs a scope. */
  authorizerUri: string;
  /** How long API Gateway caches an authorizer result per Authorization header. */
  authorizerTtlSeconds: number;
  /** Origins allowed by CORS; the gateway's own error responses can name one at most. */
  corsOrigins: readonly string[];
}

const UNAUTHENTICATED_MESSAGE = "send a valid token: Authorization: Bearer <token>";

/** Name of the security scheme (the authorizer) in the document. */
export const AUTHORIZER_NAME = "bearer-token";

/**
 * The REST API as an OpenAPI 3 document with API Gateway extensions, generated from the route
 * catalogue the local runtime also serves. One document means one deployment trigger (its hash)
 * and no per-method resources to wire in the right order.
 */
export function restApiSpec({
  title,
  integrations,
  authorizerUri,
  authorizerTtlSeconds,
  corsOrigins,
}: RestApiSpecArgs): Record<string, unknown> {
  const corsOrigin = corsOrigins.length === 1 ? corsOrigins[0] : undefined;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const parameters = [...route.resource.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    paths[route.resource] ??= {};
    paths[route.resource][route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${route.resource.replace(/[^A-Za-z]+/g, "_")}`,
      parameters,
      responses: {},
      security: route.scope === null ? [] : [{ [AUTHORIZER_NAME]: [] }],
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
    components: {
      securitySchemes: {
        [AUTHORIZER_NAME]: {
          type: "apiKey",
          name: "Authorization",
          in: "header",
          "x-amazon-apigateway-authtype": "custom",
          "x-amazon-apigateway-authorizer": {
            type: "request",
            // No Authorization header: API Gateway answers 401 itself, without invoking the authorizer.
            identitySource: "method.request.header.Authorization",
            authorizerUri,
            authorizerResultTtlInSeconds: authorizerTtlSeconds,
          },
        },
      },
    },
    "x-amazon-apigateway-gateway-responses": {
      // API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
      MISSING_AUTHENTICATION_TOKEN: gatewayResponse(404, "ROUTE_NOT_FOUND", "no such route", corsOrigin),
      // No Authorization header: API Gateway refuses it without invoking the authorizer.
      UNAUTHORIZED: gatewayResponse(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, corsOrigin),
      // A malformed or unknown token: the authorizer answers with a Deny policy (rather than
      // throwing "Unauthorized", which Lambda logs at ERROR and counts as a function error). The
      // API has no resource policy and allowed tokens get the whole stage, so a Deny is the only
      // source of ACCESS_DENIED; scopes are enforced by the handlers (403 FORBIDDEN).
      ACCESS_DENIED: gatewayResponse(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, corsOrigin),
      THROTTLED: gatewayResponse(429, "THROTTLED", "too many requests; retry with backoff", corsOrigin),
      REQUEST_TOO_LARGE: gatewayResponse(413, "PAYLOAD_TOO_LARGE", "$MESSAGE", corsOrigin),
      // No status on the defaults: each keeps the status API Gateway chose. The contract has no
      // code for the rarer gateway refusals (e.g. a malformed request line), so BAD_REQUEST.
      DEFAULT_4XX: gatewayResponse(undefined, "BAD_REQUEST", "$MESSAGE", corsOrigin),
      DEFAULT_5XX: gatewayResponse(undefined, "INTERNAL", "internal error", corsOrigin),
    },
  };
}
