import { Webhook } from "standardwebhooks";
import { DELIVERY_TIMEOUT_MS, type WebhookConfig } from "./model";

/** A delivery attempt the receiver did not accept: a non-2xx answer, or none in time. */
export class WebhookDeliveryError extends Error {
  /** The receiver's HTTP status; undefined when it did not answer (refused, timed out). */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super(message, { cause });
    this.name = "WebhookDeliveryError";
    this.status = status;
  }
}

export interface DeliveryOptions {
  /** The attempt's time: `webhook-timestamp` and the signed content. Default now. */
  now?: Date;
  /** Default DELIVERY_TIMEOUT_MS (10 s). */
  timeoutMs?: number;
  /** Ends the attempt early (the local runtime stopping). */
  signal?: AbortSignal;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the event's id, the same on every
 * attempt, so a receiver can drop a repeat), `webhook-timestamp` (this attempt's Unix seconds, so
 * a retry an hour later still passes the receiver's freshness check) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), signed by the official library.
 */
export function signedHeaders(secret: string, id: string, body: string, now: Date): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, now, body),
  };
}

/**
 * One attempt: POSTs `body` (an audit line, as JSON text) to the webhook. Resolves with the status
 * of a 2xx answer; rejects with WebhookDeliveryError for any other answer or none within the
 * timeout. Uses `fetch` (no redirects followed: a 3xx is a failure, never a POST elsewhere).
 */
export async function deliverWebhook(
  webhook: WebhookConfig,
  id: string,
  body: string,
  options: DeliveryOptions = {},
): Promise<number> {
  const now = options.now ?? new Date();
  let response: Response;
  try {
    response = await fetch(webhook.url, {
      method: "POST",
      headers: signedHeaders(webhook.secret, id, body, now),
      body,
      redirect: "manual",
      signal: AbortSignal.any([
        AbortSignal.timeout(options.timeoutMs ?? DELIVERY_TIMEOUT_MS),
        ...(options.signal === undefined ? [] : [options.signal]),
      ]),
    });
  } catch (error) {
    throw new WebhookDeliveryError(`no answer: ${(error as Error).message}`, undefined, error);
  }
  // The body is not needed; reading it frees the connection for reuse.
  await response.arrayBuffer().catch(() => undefined);
  if (response.status < 200 || response.status > 299) {
    throw new WebhookDeliveryError(`answered ${response.status}`, response.status);
  }
  return response.status;
}
