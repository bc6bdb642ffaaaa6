import type { TokenConfig } from "../../handlers/auth/tokens";

/** Tokens the test suites configure: fixed values, long enough to pass validation. */
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const READ_TOKEN = "test-read-token-0123456789abcdef";
/** A client key (`evaluate` only): what a web page publishes. */
export const CLIENT_TOKEN = "test-client-key-0123456789abcdef";

export const TEST_TOKENS: TokenConfig[] = [
  { id: "admin", token: ADMIN_TOKEN, scopes: ["read", "write"] },
  { id: "reader", token: READ_TOKEN, scopes: ["read"] },
  { id: "client", token: CLIENT_TOKEN, scopes: ["evaluate"] },
];
