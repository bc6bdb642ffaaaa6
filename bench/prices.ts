/**
 * AWS list prices the cost table (`npm run bench -- cost`) uses: us-east-1, on-demand, the first
 * (most expensive) volume tier, no free tier, no savings plan. Plain data: each price names where
 * it came from. Written 2026-12-05 from the AWS pricing pages as last read (no network here to
 * re-check them); where a stored copy of a source was found it is named in `checked`.
 */

export interface Price {
  /** Dollars per `per` units of `unit`. */
  usd: number;
  per: number;
  unit: string;
  source: string;
  /** A stored copy that confirmed the figure, if one was found; otherwise from the page as last read. */
  checked?: string;
}

const price = (usd: number, per: number, unit: string, source: string, checked?: string): Price => ({
  usd,
  per,
  unit,
  source,
  ...(checked === undefined ? {} : { checked }),
});

export const PRICES_REGION = "us-east-1";
export const PRICES_DATE = "2026-12-05";

export const PRICES = {
  apiGatewayRestRequest: price(
    3.5,
    1e6,
    "REST API request (first 333 M a month)",
    "https://aws.amazon.com/api-gateway/pricing/",
  ),
  apiGatewayWebSocketMessage: price(
    1.0,
    1e6,
    "WebSocket message, metered in 32 KB units (first 1 B a month)",
    "https://aws.amazon.com/api-gateway/pricing/",
  ),
  apiGatewayWebSocketConnectionMinute: price(
    0.25,
    1e6,
    "WebSocket connection minute",
    "https://aws.amazon.com/api-gateway/pricing/",
  ),
  wafRequest: price(0.6, 1e6, "web ACL request inspected (≤ 1,500 WCU)", "https://aws.amazon.com/waf/pricing/"),
  wafWebAclMonth: price(5.0, 1, "web ACL per month", "https://aws.amazon.com/waf/pricing/"),
  wafRuleMonth: price(1.0, 1, "rule per month", "https://aws.amazon.com/waf/pricing/"),
  lambdaRequest: price(0.2, 1e6, "Lambda invocation", "https://aws.amazon.com/lambda/pricing/"),
  lambdaArmGbSecond: price(
    0.0000133334,
    1,
    "GB-second, arm64 (first 7.5 B GB-s a month), billed per 1 ms",
    "https://aws.amazon.com/lambda/pricing/",
  ),
  lambdaX86GbSecond: price(
    0.0000166667,
    1,
    "GB-second, x86_64 (first 6 B GB-s a month), billed per 1 ms",
    "https://aws.amazon.com/lambda/pricing/",
  ),
  dynamoReadRequestUnit: price(
    0.125,
    1e6,
    "on-demand read request unit (4 KB strongly consistent; ½ eventually), Standard table class, since the 2024-11-01 cut",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  ),
  dynamoWriteRequestUnit: price(
    0.625,
    1e6,
    "on-demand write request unit (1 KB; ×2 in a transaction), Standard table class, since the 2024-11-01 cut",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  ),
  dynamoStreamsReadRequest: price(
    0.02,
    1e5,
    "DynamoDB Streams GetRecords (free when Lambda's event source mapping reads; billed for Pipes)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  ),
  pipesRequest: price(
    0.4,
    1e6,
    "EventBridge Pipes request after filtering, per 64 KB chunk",
    "https://aws.amazon.com/eventbridge/pricing/",
  ),
  eventBridgeEvent: price(
    1.0,
    1e6,
    "EventBridge custom event published (PutEvents), per 64 KB chunk",
    "https://aws.amazon.com/eventbridge/pricing/",
  ),
  firehoseIngestedGb: price(
    0.029,
    1,
    "Firehose Direct PUT GB ingested (first 500 TB), each record rounded up to 5 KB",
    "https://aws.amazon.com/firehose/pricing/",
  ),
  s3Put: price(0.005, 1000, "S3 Standard PUT", "https://aws.amazon.com/s3/pricing/"),
  cloudWatchLogsIngestedGb: price(
    0.5,
    1,
    "CloudWatch Logs Standard ingestion GB",
    "https://aws.amazon.com/cloudwatch/pricing/",
  ),
  cloudWatchCustomMetricMonth: price(
    0.3,
    1,
    "custom metric per month (first 10,000)",
    "https://aws.amazon.com/cloudwatch/pricing/",
  ),
  xrayTraceRecorded: price(
    5.0,
    1e6,
    "X-Ray trace recorded (first 100,000 a month free)",
    "https://aws.amazon.com/xray/pricing/",
  ),
} as const satisfies Record<string, Price>;

export type Prices = { readonly [K in keyof typeof PRICES]: Price };

/** Dollars for `units` of a price. */
export const cost = (p: Price, units: number): number => (p.usd / p.per) * units;

/**
 * How the services bill what they meter, where it is not a plain count (AWS documentation as last
 * read: CloudWatch Logs counts each event's bytes plus 26; Firehose rounds each record up to 5 KB;
 * API Gateway meters WebSocket messages in 32 KB units).
 */
export const METERING = {
  logEventOverheadBytes: 26,
  firehoseRecordRoundingBytes: 5 * 1024,
  webSocketMessageUnitBytes: 32 * 1024,
  /** GB as the price pages mean it (Lambda's memory GB is 1024 MB; data GB is 2^30 bytes). */
  bytesPerGb: 2 ** 30,
  /** Lambda gives a function one full vCPU at 1,769 MB, proportionally less below. */
  lambdaMbPerVcpu: 1769,
} as const;

/** Published pricing of the alternatives, for the table's side-by-side (not used in the arithmetic). */
export const ALTERNATIVES = {
  appConfigRequest: price(
    0.2,
    1e6,
    "AWS AppConfig configuration request via API (GetLatestConfiguration)",
    "https://aws.amazon.com/systems-manager/pricing/ (AppConfig section)",
    "repost.aws/questions/QUevHYubJ-TESBPlUxRyujmg quotes $0.0000002 per request and $0.0008 per configuration received",
  ),
  appConfigReceived: price(
    0.0008,
    1,
    "AWS AppConfig configuration received (a request that returns new data)",
    "https://aws.amazon.com/systems-manager/pricing/ (AppConfig section)",
    "repost.aws/questions/QUevHYubJ-TESBPlUxRyujmg",
  ),
  launchDarklyServiceConnectionMonth: price(
    12,
    1,
    "LaunchDarkly Foundation: service connection (one server-side SDK instance in one environment) per month",
    "https://launchdarkly.com/pricing/ (amount from memory, not re-checked)",
    "launchdarkly.com/docs/home/account/calculating-billing defines the metric, not the amount",
  ),
  launchDarklyClientMauMonth: price(
    10,
    1000,
    "LaunchDarkly Foundation: client-side monthly active users (unique context keys)",
    "https://launchdarkly.com/pricing/ (amount from memory, not re-checked)",
    "launchdarkly.com/docs/home/account/calculating-billing defines the metric, not the amount",
  ),
} as const satisfies Record<string, Price>;
