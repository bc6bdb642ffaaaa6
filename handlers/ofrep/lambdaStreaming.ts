/**
 * The Lambda Node.js runtime's `awslambda` global, which response streaming needs
 * (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html; typed by
 * @types/aws-lambda): `streamifyResponse` marks a handler as streaming, so Lambda calls it with
 * the response stream, and `HttpResponseStream.from` writes the prelude — status and headers as
 * JSON, then a delimiter — ahead of the body, as API Gateway's Lambda proxy integration for
 * response streaming expects. Read at cold start: it exists only inside Lambda, never where the
 * program is deployed from (so it is not captured when Pulumi serializes the handler).
 */
export function lambdaStreaming(): typeof awslambda {
  const runtime = (globalThis as unknown as { awslambda?: typeof awslambda }).awslambda;
  if (runtime === undefined) {
    throw new Error("the awslambda global is missing: response streaming runs only in Lambda's Node.js runtime");
  }
  return runtime;
}
