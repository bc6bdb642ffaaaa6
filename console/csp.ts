/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline, no eval),
 * data calls to its own origin and the WebSocket (`wss://…` on AWS, where it has another host).
 * Sent on every console response, locally and by API Gateway.
 */
export function consoleCsp(websocketOrigin?: string): string {
  const connect = ["'self'", ...(websocketOrigin === undefined ? [] : [websocketOrigin])].join(" ");
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Cache-Control of the console's files: the page and its config always fresh, hashed assets forever. */
export const CONSOLE_CACHE = {
  page: "no-cache",
  asset: "public, max-age=31536000, immutable",
} as const;
