import * as fs from "node:fs";
import * as path from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Logger } from "@aws-lambda-powertools/logger";
import { WebhookDeliveryError, deliverWebhook } from "../handlers/events/deliver";
import { type WebhookConfig, webhookId } from "../handlers/events/model";
import { makeChangeEventsHandler, type QueuedDelivery } from "../handlers/events/publish";
import { LOCAL_RETRY_DELAYS_MS } from "../handlers/events/retry";
import { type StreamPoller, startStreamPoller } from "./streams";

export interface WebhookQueueOptions {
  webhooks: readonly WebhookConfig[];
  /** Waits between attempts; default LOCAL_RETRY_DELAYS_MS (6 attempts over 62 s). */
  retryDelaysMs?: readonly number[];
  /**
   * Where pending deliveries are kept (`<dir>/pending.json`) so a restart resumes them, and where
   * given-up ones go (`<dir>/dead-letters.ndjson`). Undefined: in memory only.
   */
  dir?: string;
  logger: Pick<Logger, "warn" | "error">;
  /** One attempt; default `deliverWebhook`. */
  deliver?: typeof deliverWebhook;
}

export interface WebhookQueue {
  /** Queues deliveries and returns at once: a delivery never waits for another group's. */
  enqueue(deliveries: readonly QueuedDelivery[]): Promise<void>;
  /** Deliveries not yet delivered nor given up, in queue order. */
  pending(): QueuedDelivery[];
  /** Stops attempting; pending deliveries stay in the journal for the next start. */
  stop(): Promise<void>;
}

/**
 * The local stand-in for the FIFO delivery queue and its function: one chain per message group (a
 * webhook and a flag), so one flag's events reach a receiver in order while a dead receiver holds
 * up nothing but its own groups. A failed attempt is retried after each of `retryDelaysMs`, then
 * given up (logged, and kept in the dead-letter file). Pending deliveries are journaled after
 * each change (a small JSON file), so they survive a restart.
 */
export function startWebhookQueue(options: WebhookQueueOptions): WebhookQueue {
  const delays = options.retryDelaysMs ?? LOCAL_RETRY_DELAYS_MS;
  const deliver = options.deliver ?? deliverWebhook;
  const byId = new Map(options.webhooks.map((webhook) => [webhookId(webhook.url), webhook]));
  const journal = options.dir === undefined ? undefined : path.join(options.dir, "pending.json");
  let queued: QueuedDelivery[] = [];
  const chains = new Map<string, Promise<void>>();
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const inFlight = new Set<AbortController>();
  let running = true;

  const persist = () => {
    if (journal === undefined || options.dir === undefined) return;
    fs.mkdirSync(options.dir, { recursive: true });
    // Written whole and renamed: a crash mid-write leaves the previous journal, never half of one.
    fs.writeFileSync(`${journal}.tmp`, JSON.stringify(queued));
    fs.renameSync(`${journal}.tmp`, journal);
  };
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      timers.add(entry);
    });
  const settle = (delivery: QueuedDelivery) => {
    queued = queued.filter((d) => d !== delivery);
    persist();
  };

  const attempt = async (delivery: QueuedDelivery): Promise<void> => {
    const webhook = byId.get(delivery.webhook);
    if (webhook === undefined) {
      options.logger.warn("webhook delivery dropped: its webhook is no longer configured", { eventId: delivery.id });
      settle(delivery);
      return;
    }
    for (let tries = 0; running; tries++) {
      const abort = new AbortController();
      inFlight.add(abort);
      try {
        await deliver(webhook, delivery.id, delivery.body, { signal: abort.signal });
        settle(delivery);
        return;
      } catch (error) {
        if (!running) return;
        const reason = error instanceof WebhookDeliveryError ? error.message : String(error);
        if (tries >= delays.length) {
          options.logger.error("webhook delivery given up", { eventId: delivery.id, tries: tries + 1, reason });
          if (options.dir !== undefined) {
            fs.appendFileSync(path.join(options.dir, "dead-letters.ndjson"), `${JSON.stringify(delivery)}\n`);
          }
          settle(delivery);
          return;
        }
        options.logger.warn("webhook delivery failed; retrying later", {
          eventId: delivery.id,
          webhook: delivery.webhook,
          reason,
          retryInMs: delays[tries],
        });
        await wait(delays[tries]);
      } finally {
        inFlight.delete(abort);
      }
    }
  };

  const schedule = (delivery: QueuedDelivery) => {
    const previous = chains.get(delivery.group) ?? Promise.resolve();
    const next = previous.then(() => (running ? attempt(delivery) : undefined));
    chains.set(delivery.group, next);
    // The last link of an idle group goes, so the map does not grow with every flag ever changed.
    void next.then(() => {
      if (chains.get(delivery.group) === next) chains.delete(delivery.group);
    });
  };

  if (journal !== undefined && fs.existsSync(journal)) {
    try {
      queued = JSON.parse(fs.readFileSync(journal, "utf8")) as QueuedDelivery[];
    } catch (error) {
      options.logger.error("pending webhook deliveries unreadable; starting without them", { error: error as Error });
      queued = [];
    }
    for (const delivery of queued) schedule(delivery);
  }

  return {
    async enqueue(deliveries) {
      // A repeat of a delivery still pending (the poller retried a batch) is not queued twice.
      const fresh = deliveries.filter((d) => !queued.some((q) => q.id === d.id && q.webhook === d.webhook));
      queued.push(...fresh);
      persist();
      for (const delivery of fresh) schedule(delivery);
    },
    pending: () => [...queued],
    async stop() {
      running = false;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      timers.clear();
      for (const abort of inFlight) abort.abort();
      await Promise.allSettled([...chains.values()]);
    },
  };
}

export interface ChangeEventsOptions {
  dynamo: DynamoDBClient;
  endpoint: string;
  /** The tables whose streams carry changes (on AWS: the audit Pipes' sources), with their filters. */
  sources: ReadonlyArray<{ tableName: string; filters?: ReadonlyArray<Readonly<Record<string, unknown>>> }>;
  queue: WebhookQueue;
  webhooks: readonly WebhookConfig[];
}

/**
 * Change events on one machine: the same enrichment the audit Pipes run on AWS, on the tables'
 * streams, queuing each change for every webhook. There is no EventBridge locally: only webhooks.
 */
export async function startChangeEvents(options: ChangeEventsOptions): Promise<StreamPoller> {
  const enrich = makeChangeEventsHandler({
    webhooks: options.webhooks.map((webhook) => webhookId(webhook.url)),
    enqueue: (deliveries) => options.queue.enqueue(deliveries),
  });
  const started = await Promise.allSettled(
    options.sources.map(({ tableName, filters }) =>
      startStreamPoller({
        dynamo: options.dynamo,
        endpoint: options.endpoint,
        tableName,
        filters,
        handler: async (event) => void (await enrich(event.Records)),
      }),
    ),
  );
  const pollers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
    await options.queue.stop();
  };
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await stop();
    throw failure.reason;
  }
  return { stop };
}
