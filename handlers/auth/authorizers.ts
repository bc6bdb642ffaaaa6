import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from "aws-lambda";
import { bearerToken, type Principal, principalContext, type TokenRecord, verifyToken } from "./tokens";

export interface AuthorizerDeps {
  /** Current token records; may be cached (a revoked token stops working within that time). */
  loadTokens: () => Promise<TokenRecord[]>;
}

/**
 * API Gateway answers a thrown `Unauthorized` with 401 (the UNAUTHORIZED gateway response); any
 * other failure of the authorizer is a 500. Nothing about the token is logged or echoed.
 */
const unauthorized = (): Error => new Error("Unauthorized");

/**
 * The policy for a verified token. The result is cached per token for every route, so it allows
 * the whole stage; the handlers enforce scopes per route.
 */
function allow(principal: Principal, methodArn: string): APIGatewayAuthorizerResult {
  // methodArn: arn:aws:execute-api:region:account:apiId/stage/METHOD/path
  const [apiArn, stage] = methodArn.split("/");
  return {
    principalId: principal.tokenId,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: `${apiArn}/${stage}/*` }],
    },
    context: principalContext(principal),
  };
}

/** REST API REQUEST authorizer: the token from `Authorization: Bearer <token>`. */
export function makeRestAuthorizer({ loadTokens }: AuthorizerDeps) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const header = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === "authorization")?.[1];
    const principal = verifyToken(bearerToken(header), await loadTokens());
    if (principal === undefined) throw unauthorized();
    return allow(principal, event.methodArn);
  };
}

/**
 * The token from `?token=` as the client meant it. A base64 token sent without percent-encoding
 * reaches us with each `+` decoded as a space, and tokens never contain spaces; one that arrives
 * still percent-encoded (`%2B`, `%2F`) is decoded once.
 */
export function queryToken(raw: string | null | undefined): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  let token = raw.replace(/ /g, "+");
  if (/%[0-9A-Fa-f]{2}/.test(token)) {
    try {
      token = decodeURIComponent(token);
    } catch {
      // Not percent-encoding after all: verify it as it came.
    }
  }
  return token;
}

/**
 * WebSocket `$connect` REQUEST authorizer: browsers cannot set headers on a WebSocket, so the
 * token comes as `?token=`. Connecting needs the `read` scope (`write` includes it).
 */
export function makeWebSocketAuthorizer({ loadTokens }: AuthorizerDeps) {
  return async (
    event: APIGatewayRequestAuthorizerEvent | APIGatewayRequestAuthorizerEventV2,
  ): Promise<APIGatewayAuthorizerResult> => {
    const principal = verifyToken(queryToken(event.queryStringParameters?.token), await loadTokens());
    if (principal === undefined) throw unauthorized();
    return allow(principal, (event as APIGatewayRequestAuthorizerEvent).methodArn);
  };
}
