import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from "aws-lambda";
import { bearerToken, grants, lookUpToken, type Principal, principalContext, type TokenLookup } from "./tokens";

export interface AuthorizerDeps {
  /**
   * The token records, looked up by the presented token's hash (one GetItem on AWS); may be cached
   * (a revoked token stops working within that time).
   */
  tokens: TokenLookup;
}

/**
 * The error message API Gateway turns into 401 when an authorizer throws it. Only the WebSocket
 * authorizer throws it (a WebSocket API has no gateway responses, so nothing else yields 401);
 * the Lambda runtime logs it at ERROR and counts it in `Errors`, so its alarms discount exactly
 * this message. Nothing about the token is logged or echoed.
 */
export const UNAUTHORIZED_MESSAGE = "Unauthorized";

/** Principal id of a refused request (API Gateway requires one on every policy). */
const ANONYMOUS = "anonymous";

/**
 * The policy for a verified token. The result is cached per token for every route, so it allows
 * the whole stage; the handlers enforce scopes per route.
 */
function allow(principal: Principal, methodArn: string): APIGatewayAuthorizerResult {
  return {
    principalId: principal.tokenId,
    policyDocument: stagePolicy("Allow", methodArn),
    context: principalContext(principal),
  };
}

function stagePolicy(effect: "Allow" | "Deny", methodArn: string): APIGatewayAuthorizerResult["policyDocument"] {
  // methodArn: arn:aws:execute-api:region:account:apiId/stage/METHOD/path
  const [apiArn, stage] = methodArn.split("/");
  return {
    Version: "2012-10-17",
    Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: `${apiArn}/${stage}/*` }],
  };
}

/**
 * REST API REQUEST authorizer: the token from `Authorization: Bearer <token>`. An unknown or
 * malformed token gets a Deny policy, not a thrown error: API Gateway answers it with the
 * ACCESS_DENIED gateway response, which the API maps to the contract's 401, and the function
 * neither fails nor logs an ERROR line, so a scanner cannot page anyone.
 */
export function makeRestAuthorizer({ tokens }: AuthorizerDeps) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const header = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === "authorization")?.[1];
    const principal = await lookUpToken(bearerToken(header), tokens);
    if (principal === undefined)
      return { principalId: ANONYMOUS, policyDocument: stagePolicy("Deny", event.methodArn) };
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
 * token comes as `?token=`. Connecting needs the `read` scope (`write` includes it). An unknown
 * token throws `Unauthorized`: the only way to have a WebSocket handshake refused with 401, see
 * UNAUTHORIZED_MESSAGE. A known token without `read` (a client key: the WebSocket carries every
 * flag's whole definition) gets a Deny policy, which API Gateway answers with 403; nothing fails
 * or logs an ERROR, and no principal reaches `$connect`.
 */
export function makeWebSocketAuthorizer({ tokens }: AuthorizerDeps) {
  return async (
    event: APIGatewayRequestAuthorizerEvent | APIGatewayRequestAuthorizerEventV2,
  ): Promise<APIGatewayAuthorizerResult> => {
    const principal = await lookUpToken(queryToken(event.queryStringParameters?.token), tokens);
    if (principal === undefined) throw new Error(UNAUTHORIZED_MESSAGE);
    const methodArn = (event as APIGatewayRequestAuthorizerEvent).methodArn;
    if (!grants(principal.scopes, "read")) {
      return { principalId: principal.tokenId, policyDocument: stagePolicy("Deny", methodArn) };
    }
    return allow(principal, methodArn);
  };
}
