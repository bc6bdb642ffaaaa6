import { gzipSync } from "node:zlib";
import { REST_ACCESS_LOG_FORMAT } from "../../components/accessLogs";

/**
 * The REST stage's access log line for one request, as API Gateway writes it from the deployed
 * format: each `$context.<variable>` replaced by its value, `-` for one without a value.
 */
export function restAccessLogLine(values: Record<string, string>): string {
  return REST_ACCESS_LOG_FORMAT.replace(/\$context\.([A-Za-z.]+)/g, (_, variable: string) => values[variable] ?? "-");
}

/** A typical successful read's values: what the cost bench prices and the size test bounds. */
export const TYPICAL_READ: Readonly<Record<string, string>> = {
  requestId: "5f0c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
  xrayTraceId: "Root=1-6751f2a3-0123456789abcdef01234567",
  requestTimeEpoch: "1764979200123",
  "identity.sourceIp": "203.0.113.42",
  "authorizer.principalId": "web-frontend",
  httpMethod: "GET",
  resourcePath: "/flags/{flagName}",
  path: "/v1/flags/checkout-v2",
  status: "200",
  responseLatency: "23",
  integrationLatency: "19",
  responseLength: "412",
};

/** A successful or failed request's values, as the REST stage's variables name them. */
export const restRequest = (
  method: string,
  resourcePath: string,
  path: string,
  status: number,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  requestId: `req-${method}-${path}-${status}`,
  requestTimeEpoch: "1764979200123",
  "identity.sourceIp": "203.0.113.7",
  "authorizer.principalId": "reader",
  httpMethod: method,
  resourcePath,
  path: `/v1${path}`,
  status: String(status),
  responseLatency: "12",
  integrationLatency: "10",
  responseLength: "321",
  ...extra,
});

/**
 * What CloudWatch Logs puts into Firehose for a subscription filter: the gzipped JSON payload
 * (base64 in a Firehose transformation event), DATA_MESSAGE with log events or a CONTROL_MESSAGE.
 */
export function logsFirehoseData(messages: string[], messageType = "DATA_MESSAGE"): string {
  const payload = {
    messageType,
    owner: messageType === "DATA_MESSAGE" ? "123456789012" : "CloudwatchLogs",
    logGroup: messageType === "DATA_MESSAGE" ? "flags-dev-access-logs-1a2b3c4" : "",
    logStream: messageType === "DATA_MESSAGE" ? "0123456789abcdef0123456789abcdef" : "",
    subscriptionFilters: messageType === "DATA_MESSAGE" ? ["flags-dev-audit-reads-1a2b3c4"] : [],
    logEvents:
      messageType === "DATA_MESSAGE"
        ? messages.map((message, i) => ({
            id: `3719518596871282737930254962339428094758963526600${String(i).padStart(5, "0")}`,
            timestamp: 1764979200123 + i,
            message,
          }))
        : [
            {
              id: "",
              timestamp: 1764979200123,
              message: "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            },
          ],
  };
  return gzipSync(Buffer.from(JSON.stringify(payload)), { level: 6 }).toString("base64");
}
