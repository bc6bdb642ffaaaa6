/**
 * The line the Lambda Node.js runtime writes when a handler throws, with the function's log format
 * set to JSON: `console.error(error)` through its JSON formatter, so the error object lands under
 * `message` (aws-lambda-nodejs-runtime-interface-client: LogPatch `jsonErrorLogger`,
 * `formatJsonMessage` and `jsonErrorReplacer`, the same in the 3.x runtime and the current one).
 */
export function runtimeErrorLine(error: unknown, requestId = "00000000-0000-0000-0000-000000000000"): string {
  const err = error instanceof Error ? error : new Error(String(error));
  const message = Object.assign(
    {
      errorType: err.constructor?.name ?? "UnknownError",
      errorMessage: err.message,
      stackTrace: typeof err.stack === "string" ? err.stack.split("\n") : err.stack,
    },
    err,
  );
  return JSON.stringify({ timestamp: new Date().toISOString(), level: "ERROR", requestId, message });
}
