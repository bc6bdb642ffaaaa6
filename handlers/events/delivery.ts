import { SqsFifoPartialProcessorAsync, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { WebhookDeliveryError, deliverWebhook } from "./deliver";
import { type WebhookConfig, webhookId } from "./model";
import { MAX_RECEIVES, retryDelaySeconds } from "./retry";

export interface WebhookDeliveryDeps {
  /** The configured webhooks with their secrets (an SSM SecureString on AWS), cached by the caller. */
  webhooks: () => Promise<WebhookConfig[]>;
  /** Hides a failed message for `seconds` (ChangeMessageVisibility): the backoff before its retry. */
  retryLater: (receiptHandle: string, seconds: number) => Promise<void>;
  logger: Pick<Logger, "warn" | "error">;
  /** One attempt; default `deliverWebhook`. */
  deliver?: typeof deliverWebhook;
}

/**
 * The webhook delivery function, on the FIFO delivery queue: POSTs each queued audit line to its
 * webhook, signed (Standard Webhooks). A receiver that fails (non-2xx, or no answer in 10 s) fails
 * only its message, which is hidden for a growing delay and tried again; the rest of its group
 * (that receiver's later events about the same flag) waits behind it, other groups go on
 * (`skipGroupOnError`). A receiver's failure is a WARN: it is theirs to fix, and the dead-letter
 * queue's alarm speaks if it lasts past MAX_RECEIVES attempts. Failing to read the webhooks
 * themselves is this service's fault: the invocation fails (an ERROR, and Lambda's Errors alarm).
 */
export function makeWebhookDeliveryHandler(deps: WebhookDeliveryDeps) {
  const deliver = deps.deliver ?? deliverWebhook;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const configured = await deps.webhooks();
    const byId = new Map(configured.map((webhook) => [webhookId(webhook.url), webhook]));
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const id = record.messageAttributes.eventId?.stringValue ?? record.messageId;
      const webhook = byId.get(record.messageAttributes.webhook?.stringValue ?? "");
      if (webhook === undefined) {
        // Removed from the configuration since it was queued: nobody to deliver to.
        deps.logger.warn("webhook delivery dropped: its webhook is no longer configured", { eventId: id });
        return;
      }
      try {
        await deliver(webhook, id, record.body);
      } catch (error) {
        if (!(error instanceof WebhookDeliveryError)) {
          deps.logger.error("webhook delivery could not be attempted", { eventId: id, error: error as Error });
          throw error;
        }
        const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
        const delay = retryDelaySeconds(attempt);
        deps.logger.warn("webhook delivery failed; retrying later", {
          eventId: id,
          webhook: webhookId(webhook.url),
          status: error.status,
          reason: error.message,
          attempt,
          retryInSeconds: attempt >= MAX_RECEIVES ? undefined : delay,
          deadLetter: attempt >= MAX_RECEIVES,
        });
        // If the delay cannot be set, the queue's visibility timeout applies instead.
        await deps
          .retryLater(record.receiptHandle, delay)
          .catch((cause: unknown) =>
            deps.logger.error("webhook retry delay not set", { eventId: id, error: cause as Error }),
          );
        throw error;
      }
    };
    // A fresh processor per batch: nothing carries over between invocations of a warm container.
    const processor = new SqsFifoPartialProcessorAsync();
    return processPartialResponse(event, handleRecord, processor, {
      skipGroupOnError: true,
      // A batch whose every delivery failed is still an answer (all items failed), not a fault.
      throwOnFullBatchFailure: false,
    });
  };
}
