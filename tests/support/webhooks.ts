import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { SQSRecord } from "aws-lambda";
import { type WebhookConfig, webhookId } from "../../handlers/events/model";

/** Two webhooks with valid Standard Webhooks secrets (32 bytes each), for configs under test. */
export const TEST_WEBHOOKS: WebhookConfig[] = [
  {
    url: "https://hooks.example.com/flags?token=not-for-logs",
    secret: `whsec_${Buffer.alloc(32, 1).toString("base64")}`,
  },
  { url: "https://chat.example.org/in/T000/B000", secret: `whsec_${Buffer.alloc(32, 2).toString("base64")}` },
];

/** A fresh `whsec_` secret. */
export const newSecret = (): string => `whsec_${randomBytes(32).toString("base64")}`;

/** One POST a receiver got: verified (or not) with the official library. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  /** Whether `standardwebhooks`' `verify` accepted the signature and timestamp. */
  verified: boolean;
  at: number;
}

/** How the receiver answers the n-th request (0-based): a status, or `hang` (no answer). */
export type Answer = number | "hang";

/**
 * A webhook receiver on 127.0.0.1 that verifies every request with the `standardwebhooks`
 * package, as a real receiver would, and answers as `answer(n)` says. Records everything.
 */
export async function startWebhookReceiver(secret: string, answer: (n: number, body: string) => Answer = () => 204) {
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<http.ServerResponse>();
  const waiters: Array<() => void> = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      let verified = true;
      try {
        new Webhook(secret).verify(body, headers);
      } catch {
        verified = false;
      }
      const n = received.length;
      received.push({ headers, body, verified, at: Date.now() });
      for (const wake of waiters.splice(0)) wake();
      const reply = answer(n, body);
      if (reply === "hang") {
        hanging.add(response);
        return;
      }
      response.writeHead(reply).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    webhook: { url, secret } as WebhookConfig,
    received,
    /** The bodies of requests answered 2xx so far are not tracked apart: use `received`. */
    async until(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met; got ${received.length} requests`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    async stop() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A message of the FIFO delivery queue as Lambda hands it to the delivery function. */
export function deliveryRecord(url: string, eventId: string, body: string, group: string, receiveCount = 1): SQSRecord {
  return {
    messageId: `m-${eventId}`,
    receiptHandle: `rh-${eventId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
      MessageGroupId: group,
    },
    messageAttributes: {
      webhook: { dataType: "String", stringValue: webhookId(url) },
      eventId: { dataType: "String", stringValue: eventId },
    },
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:webhooks.fifo",
    awsRegion: "eu-west-1",
  };
}
