import { createHash } from "node:crypto";
import type { AuditLine, EvaluatorAuditLine } from "../audit/records";

/** `source` of every change event on EventBridge (CONTRACT.md, "Change events"). */
export const CHANGE_EVENT_SOURCE = "feature-flags";

/**
 * An EventBridge event pattern matching the change events of the given tables only: what a rule
 * on a bus other stacks share must use (`resources` names the table whose stream saw the change).
 */
export function changeEventPattern(tableArns: readonly string[]): { source: string[]; resources: string[] } {
  return { source: [CHANGE_EVENT_SOURCE], resources: [...tableArns] };
}

/** A change's audit line: a flag's or an evaluator's, never a read. */
export type ChangeLine = (AuditLine & { eventName: "created" | "updated" | "deleted" }) | EvaluatorAuditLine;

/** One webhook as configured (`webhooks` on AWS, `FLAGS_WEBHOOKS` locally). */
export interface WebhookConfig {
  url: string;
  /** `whsec_` and the base64 of 24 to 64 random bytes (Standard Webhooks). */
  secret: string;
}

/** Seconds a receiver has to answer a POST before the attempt counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;

const TITLES = { created: "Created", updated: "Updated", deleted: "Deleted" } as const;

/** Whether an audit line records a change (and so is an event); `read` lines never are. */
export function isChangeLine(line: AuditLine | EvaluatorAuditLine | undefined): line is ChangeLine {
  // Typed as text: the trail's line types may or may not include `read` (reads come from elsewhere).
  const name: string | undefined = line?.eventName;
  return name !== undefined && name !== "read";
}

/** `detail-type` of a change: `Flag Created`, …, `Evaluator Deleted`. */
export function detailTypeOf(line: ChangeLine): string {
  return `${"flagName" in line ? "Flag" : "Evaluator"} ${TITLES[line.eventName]}`;
}

/** What a change is about, for ordering: one flag's (or one evaluator's) events keep their order. */
export function subjectOf(line: ChangeLine): string {
  return "flagName" in line ? `flag:${line.flagName}` : `evaluator:${line.evaluatorName}`;
}

/**
 * A webhook's stable id: a digest of its URL (which may itself hold a credential, as chat
 * webhooks' do), so queued deliveries name their receiver without carrying its URL, and a reordered
 * configuration still sends each pending delivery where it was meant to go.
 */
export function webhookId(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 16);
}

/**
 * The FIFO message group of one receiver's deliveries about one subject (SQS allows 128
 * characters): a long name is replaced by its digest, which keeps groups apart just as well.
 */
export function deliveryGroupOf(webhook: string, subject: string): string {
  const group = `${webhook}:${subject}`;
  return group.length <= 128 ? group : `${webhook}:${createHash("sha256").update(subject).digest("hex")}`;
}

/** Why a `webhooks` value is refused; the message names the entry and the fix. */
export class WebhookConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookConfigError";
  }
}

/**
 * Parses and checks the `webhooks` JSON (`[{"url", "secret"}]`): each URL http(s), each secret a
 * Standard Webhooks secret, no URL twice. `source` names the setting in messages.
 */
export function parseWebhooks(raw: string | undefined, source: string): WebhookConfig[] {
  if (raw === undefined || raw.trim() === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new WebhookConfigError(`${source} must be JSON: [{"url": "https://…", "secret": "whsec_…"}]`);
  }
  if (!Array.isArray(value)) throw new WebhookConfigError(`${source} must be a JSON array of {"url", "secret"}`);
  const seen = new Set<string>();
  return value.map((entry: unknown, index) => {
    const { url, secret } = (entry ?? {}) as Record<string, unknown>;
    const where = `${source}[${index}]`;
    let parsed: URL | undefined;
    try {
      parsed = typeof url === "string" ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      throw new WebhookConfigError(`${where}.url must be an http(s) URL`);
    }
    const key = typeof secret === "string" && secret.startsWith("whsec_") ? secret.slice("whsec_".length) : undefined;
    const bytes = key !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, "base64").length : 0;
    if (bytes < 24 || bytes > 64) {
      throw new WebhookConfigError(
        `${where}.secret must be "whsec_" and the base64 of 24 to 64 random bytes (make one with: echo whsec_$(openssl rand -base64 32))`,
      );
    }
    if (seen.has(url as string)) throw new WebhookConfigError(`${where}.url is configured twice`);
    seen.add(url as string);
    return { url: url as string, secret: secret as string };
  });
}
