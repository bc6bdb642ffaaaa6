import * as http from "node:http";
import * as https from "node:https";
import { doesIdentityRequireRefresh, isIdentityExpired, memoizeIdentityProvider } from "@smithy/core";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { ServerMessage } from "./messages";
import type { PostOutcome } from "./push";

type SignerCredentials = ConstructorParameters<typeof SignatureV4>[0]["credentials"];
type AwsCredentialIdentityProvider = Extract<SignerCredentials, (...args: never[]) => unknown>;
type AwsCredentialIdentity = Exclude<SignerCredentials, AwsCredentialIdentityProvider>;

/** Options of {@link makeSignedPoster}. */
export interface SignedPosterOptions {
  /** `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (or a local `http://` stand-in). */
  endpoint: string;
  /** Signing region (on Lambda, `AWS_REGION`). */
  region: string;
  /** Credentials, or a provider of them (on Lambda, `fromEnv()`): resolved once, again before they expire. */
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Sockets kept open to API Gateway: the fan-out's concurrency. */
  maxSockets: number;
  /** Attempts per post when API Gateway throttles (429) or fails (5xx, network); default 6. */
  maxAttempts?: number;
  /** First backoff before a retry, doubled each attempt (full jitter, capped at 2 s); default 50 ms. */
  baseDelayMs?: number;
}

/** An error answer of the Management API: `name` is API Gateway's error type (e.g. `ForbiddenException`). */
export class ManagementApiError extends Error {
  readonly statusCode: number;
  readonly $metadata: { httpStatusCode: number; attempts: number };
  constructor(name: string, message: string, statusCode: number, attempts: number) {
    super(message);
    this.name = name;
    this.statusCode = statusCode;
    this.$metadata = { httpStatusCode: statusCode, attempts };
  }
}

const RETRY_CAP_MS = 2000;

const ERROR_NAMES: Record<number, string> = {
  400: "BadRequestException",
  403: "ForbiddenException",
  410: "GoneException",
  413: "PayloadTooLargeException",
  429: "LimitExceededException",
};

function errorFrom(status: number, headers: http.IncomingHttpHeaders, body: string, attempts: number) {
  const type = headers["x-amzn-errortype"];
  const name = (typeof type === "string" && type.split(":")[0]) || ERROR_NAMES[status] || `ManagementApi${status}Error`;
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; Message?: unknown };
    message = String(parsed.message ?? parsed.Message ?? body);
  } catch {
    // Not JSON: keep the text.
  }
  return new ManagementApiError(name, message || `HTTP ${status}`, status, attempts);
}

const retryable = (status: number) => status === 429 || status >= 500;

/**
 * PostToConnection as one SigV4-signed `POST {endpoint}/@connections/{id}` over a keep-alive
 * agent — the Management API's REST shape — instead of the SDK client's per-request middleware
 * pipeline, which costs several times the CPU per post in a fan-out. Same outcome as
 * `makePoster`: `sent`, `gone` on 410, and a thrown {@link ManagementApiError} otherwise (403,
 * 413, …). Throttling (429), 5xx and network errors are retried with exponential backoff, at most
 * `maxAttempts` in all.
 */
export function makeSignedPoster(options: SignedPosterOptions) {
  const base = new URL(options.endpoint);
  const secure = base.protocol === "https:";
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: options.maxSockets })
    : new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const request = secure ? https.request : http.request;
  const port = base.port === "" ? undefined : Number(base.port);
  const stagePath = base.pathname.replace(/\/+$/, "");
  const signer = new SignatureV4({
    service: "execute-api",
    region: options.region,
    // The SDK clients' own caching (already in every bundle that has a client): resolved once,
    // again 5 minutes before an expiry, concurrent resolutions shared, a failed one not kept
    // (undefined only for undefined credentials, which the type rules out).
    credentials:
      memoizeIdentityProvider(options.credentials, isIdentityExpired, doesIdentityRequireRefresh) ??
      options.credentials,
    sha256: Sha256,
    // No x-amz-content-sha256 header (API Gateway does not need it; the payload hash is still
    // signed): ~40 µs less CPU per post.
    applyChecksum: false,
  });
  const maxAttempts = options.maxAttempts ?? 6;
  const baseDelayMs = options.baseDelayMs ?? 50;

  const send = async (path: string, body: string) => {
    const signed = await signer.sign({
      method: "POST",
      protocol: base.protocol,
      hostname: base.hostname,
      port,
      path,
      query: {},
      headers: { host: base.host, "content-length": String(Buffer.byteLength(body)) },
      body,
    });
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const outgoing = request(
        { agent, method: "POST", hostname: base.hostname, port, path, headers: signed.headers },
        (response) => {
          const status = response.statusCode ?? 0;
          response.on("error", reject);
          if (status >= 200 && status < 300) {
            // A success has no body worth reading: drain it, which frees the socket for the next post.
            response.on("end", () => resolve({ status, headers: response.headers, body: "" }));
            response.resume();
            return;
          }
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  };

  // Retries by hand, not with @smithy/core/retry's StandardRetryStrategy: that one is already in
  // this bundle (0 KiB more), but its quota, shared by every post of the poster, stops retrying a
  // throttled fan-out after 100 retries in all, and its 429 backoff is up to 1 s doubling to 20 s.
  return async (connectionId: string, message: ServerMessage | string): Promise<PostOutcome> => {
    const data = typeof message === "string" ? message : JSON.stringify(message);
    const path = `${stagePath}/@connections/${encodeURIComponent(connectionId)}`;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const answer = await send(path, data);
        if (answer.status >= 200 && answer.status < 300) return "sent";
        if (answer.status === 410) return "gone";
        failure = errorFrom(answer.status, answer.headers, answer.body, attempt);
        if (!retryable(answer.status)) throw failure;
      } catch (error) {
        // A network error (ECONNRESET on a reused socket, …) carries a system `code`: retry it.
        if (error === failure || typeof (error as { code?: unknown }).code !== "string") throw error;
        failure = error;
      }
      if (attempt >= maxAttempts) throw failure;
      const backoff = Math.random() * Math.min(RETRY_CAP_MS, baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  };
}
