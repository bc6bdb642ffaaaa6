import { gunzipSync } from "node:zlib";

/**
 * A `read` line of the audit trail (CONTRACT.md, "Audit records"): one per successful
 * `GET /flags/{flagName}`. A read changes nothing, so it has no images; `version` is the one read
 * when the writer knows it (the local runtime), null when it does not (API Gateway's access log
 * cannot carry a response's body).
 */
export interface ReadAuditLine {
  eventId: string;
  eventName: "read";
  flagName: string;
  at: string;
  actor: string | null;
  version: number | null;
  before: null;
  after: null;
}

/** One successful read of a flag, as the layer in front of the handler saw it. */
export interface FlagRead {
  flagName: string;
  /** When the request arrived, epoch milliseconds. */
  at: number;
  /** The token's id (the authorizer's principal id). */
  actor: string | null;
  version?: number | null;
}

export const readAuditLine = (read: FlagRead, eventId: string): ReadAuditLine => ({
  eventId,
  eventName: "read",
  flagName: read.flagName,
  at: new Date(read.at).toISOString(),
  actor: read.actor,
  version: read.version ?? null,
  before: null,
  after: null,
});

/** The route whose successful requests are reads of a flag (a listing or a history is not). */
export const READ_ROUTE = { method: "GET", resourcePath: "/flags/{flagName}" } as const;

/**
 * The CloudWatch Logs subscription filter on the REST stage's access log group: successful reads
 * of one flag only (the access log's fields, components/accessLogs.ts).
 */
export const READ_LOG_FILTER_PATTERN = `{ ($.method = "${READ_ROUTE.method}") && ($.resourcePath = "${READ_ROUTE.resourcePath}") && ($.status = "200") }`;

/** The access log fields a read line is made of (all quoted; `-` when API Gateway had no value). */
interface AccessLogLine {
  requestId?: string;
  requestTime?: string;
  principalId?: string;
  method?: string;
  resourcePath?: string;
  path?: string;
  status?: string;
}

/**
 * The read an access log line records, or undefined for any other request. The flag's name is the
 * request path's last segment (`$context.path`: the stage and path, never the query string).
 */
export function accessLogRead(message: string): { requestId: string; read: FlagRead } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object") return undefined;
  const line = parsed as AccessLogLine;
  if (line.method !== READ_ROUTE.method || line.resourcePath !== READ_ROUTE.resourcePath || line.status !== "200") {
    return undefined;
  }
  const segment = /\/flags\/([^/]+)$/.exec(line.path ?? "")?.[1];
  let flagName: string;
  try {
    flagName = decodeURIComponent(segment ?? "");
  } catch {
    return undefined;
  }
  const at = Number(line.requestTime);
  // A 200 of this route was a valid name; the checks keep a line that is not one out of the trail.
  if (flagName === "" || !Number.isFinite(at) || line.requestId === undefined) return undefined;
  const actor = line.principalId === undefined || line.principalId === "-" ? null : line.principalId;
  return { requestId: line.requestId, read: { flagName, at, actor } };
}

/** What CloudWatch Logs hands a subscription's destination (gzipped JSON). */
interface LogsPayload {
  messageType: "DATA_MESSAGE" | "CONTROL_MESSAGE";
  logEvents?: Array<{ id: string; timestamp: number; message: string }>;
}

/** Whether a Firehose record's bytes are a CloudWatch Logs subscription's (gzip, RFC 1952). */
export const isLogsPayload = (data: Buffer): boolean => data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;

/**
 * The `read` lines of one CloudWatch Logs payload delivered through a subscription filter: one per
 * access log event of a successful flag read, its id the request's id. A CONTROL_MESSAGE (Logs
 * checking that it can reach the destination) has none.
 */
export function logsPayloadToReadLines(data: Buffer): ReadAuditLine[] {
  const payload = JSON.parse(gunzipSync(data).toString("utf8")) as LogsPayload;
  if (payload.messageType !== "DATA_MESSAGE") return [];
  return (payload.logEvents ?? []).flatMap((event) => {
    const found = accessLogRead(event.message);
    return found === undefined ? [] : [readAuditLine(found.read, found.requestId)];
  });
}
