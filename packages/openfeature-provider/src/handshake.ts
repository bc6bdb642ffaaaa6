/**
 * What a refused WebSocket handshake means. Only a service that serves can judge a token: a 401 or
 * 403 from anything else (a process still starting, a proxy in front of one) says nothing about the
 * token, and retrying is what gets the provider back once the service serves.
 */

/** A handshake answered with something other than 101, as `ws`'s `unexpected-response` shows it. */
export interface HandshakeRefusal {
  status: number;
  /** Lower-case names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The start of the body (a few KiB at most). */
  body: string;
}

/** The contract's error codes for a token refused (401) or without the needed scope (403). */
const TOKEN_CODES = ["UNAUTHENTICATED", "FORBIDDEN"];
/** API Gateway's answers to a refused `$connect`. */
const GATEWAY_MESSAGES = ["Unauthorized", "Forbidden"];
/** Headers API Gateway puts on what it answers itself; it answers only once deployed and serving. */
const GATEWAY_HEADERS = ["x-amzn-requestid", "x-amzn-errortype", "apigw-requestid", "x-amz-apigw-id"];

/**
 * Whether a refused handshake is the service refusing the token — FATAL, as no retry can help —
 * rather than a service not (yet) serving, which is retried: a 401/403 carrying the contract's
 * error body (`{"error": {"code": "UNAUTHENTICATED" | "FORBIDDEN"}}`, what the service answers
 * once it serves) or API Gateway's own answer. A 503 while the service starts, a bare 401, or a
 * body from something else, is retried with backoff.
 */
export function isTokenRefusal({ status, headers, body }: HandshakeRefusal): boolean {
  if (status !== 401 && status !== 403) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const { error, message } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
    error?: { code?: unknown };
    message?: unknown;
  };
  if (typeof error?.code === "string" && TOKEN_CODES.includes(error.code)) return true;
  if (typeof message === "string" && GATEWAY_MESSAGES.includes(message)) return true;
  return GATEWAY_HEADERS.some((name) => headers[name] !== undefined);
}
