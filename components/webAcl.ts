import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CORS_EXPOSED_HEADERS, errorBody, MAX_BODY_BYTES } from "../handlers/http";

export interface StageWebAclArgs {
  /** Refuse request bodies over MAX_BODY_BYTES with the contract's 413. */
  bodyLimit: boolean;
  /** Requests per source IP per minute to OFREP paths before a 429; 0: no OFREP rate rule. */
  ofrepRateLimit: number;
  /** Requests per source IP per minute to any path before a 429; 0: no rule for all paths. */
  rateLimit: number;
  /** Origins allowed by CORS: each gets its own `Access-Control-Allow-Origin` on WAF's refusals. */
  corsOrigins: readonly string[];
}

/** A rule as the WAFv2 API spells it (`ruleJson`); see CreateWebACL in the WAF API reference. */
export type WafRule = Record<string, unknown> & { Name: string; Priority: number };

/**
 * Seconds a rate-limited client is told to wait: the evaluation window (of both rate rules), after
 * which the requests that put it over the limit have left the count. WAF accepts windows of 60,
 * 120, 300 or 600 s; the shortest makes each limit a per-minute one and lifts a block soonest.
 */
export const RATE_WINDOW_SECONDS = 60;

/**
 * Requests per source IP per minute that any path admits (`rateLimit`) by default: half the
 * stage's default throttle (100 requests per second, 6,000 a minute), so one address flooding
 * even `/health` (no token needed) leaves at least half the stage to everyone else, while an
 * office behind one NAT keeps room for 50 requests a second. OFREP keeps its own lower limit.
 */
export const DEFAULT_RATE_LIMIT = 3000;

/** WAF's bounds on a rate-based rule's limit (requests per evaluation window). */
const RATE_LIMIT_BOUNDS = { min: 10, max: 2_000_000_000 } as const;

/** WAF's default quota of custom response headers in one web ACL. */
export const MAX_CUSTOM_RESPONSE_HEADERS = 100;

const LABELS = { tooLarge: "flags:payload-too-large", throttled: "flags:throttled" } as const;

const visibility = (metricName: string) => ({
  SampledRequestsEnabled: true,
  CloudWatchMetricsEnabled: true,
  MetricName: metricName,
});

const labelled = (label: string) => ({ LabelMatchStatement: { Scope: "LABEL", Key: label } });

/**
 * The stage's web ACL rules. WAF's custom responses have static headers, so a refusal that should
 * name the caller's origin in `Access-Control-Allow-Origin` (as the contract wants for every
 * response to an allowed origin) takes one rule per origin:
 *
 * 1. the size and rate rules only COUNT, adding a label to what they would refuse (both rate rules
 *    the same label: one 429, so the second rule costs no custom response header);
 * 2. per refusal and per allowed origin, a BLOCK rule matching the label AND `Origin` exactly,
 *    whose custom response names that origin;
 * 3. per refusal, a BLOCK rule on the label alone, without CORS headers (no Origin, or another).
 *
 * A throttled client is refused first (429 tells it to back off, whatever it sent). Capacity: an
 * origin's rule costs 3 WCUs (a label match, an exact header match), the OFREP rate rule 12 (its
 * scope-down is a CONTAINS match), the all-paths one 2, far below the 1,500 WCUs a web ACL's base
 * price includes.
 */
export function webAclRules({ bodyLimit, ofrepRateLimit, rateLimit, corsOrigins }: StageWebAclArgs): WafRule[] {
  const counters: Array<Omit<WafRule, "Priority">> = [];
  const refusals: Array<{
    name: string;
    label: string;
    status: number;
    body: string;
    headers: Array<{ Name: string; Value: string }>;
    exposed: boolean;
  }> = [];
  // Both rate rules only count and label: one set of refusals below answers either (a 429).
  const rateRule = (name: string, limit: number, scopeDown?: Record<string, unknown>) => ({
    Name: name,
    Action: { Count: {} },
    RuleLabels: [{ Name: LABELS.throttled }],
    Statement: {
      RateBasedStatement: {
        Limit: limit,
        EvaluationWindowSec: RATE_WINDOW_SECONDS,
        AggregateKeyType: "IP",
        ...(scopeDown === undefined ? {} : { ScopeDownStatement: scopeDown }),
      },
    },
    VisibilityConfig: visibility(name),
  });
  if (ofrepRateLimit > 0) {
    counters.push(
      rateRule("ofrep-rate-limit", ofrepRateLimit, {
        // The stage name may precede the path (`/dev/ofrep/v1/...` on the default endpoint).
        // `rule_json` takes SearchString as plain text, not base64 (terraform-provider-aws#39878).
        ByteMatchStatement: {
          FieldToMatch: { UriPath: {} },
          PositionalConstraint: "CONTAINS",
          SearchString: "/ofrep/v1/",
          TextTransformations: [{ Priority: 0, Type: "NONE" }],
        },
      }),
    );
  }
  // Every path, /health and the console's files included: a flood from one address takes at most
  // this share of the stage's throttle, which every client shares.
  if (rateLimit > 0) counters.push(rateRule("rate-limit", rateLimit));
  if (ofrepRateLimit > 0 || rateLimit > 0) {
    refusals.push({
      name: "throttled",
      label: LABELS.throttled,
      status: 429,
      body: "throttled",
      headers: [{ Name: "Retry-After", Value: String(RATE_WINDOW_SECONDS) }],
      // The OFREP web provider reads Retry-After to pause its polling.
      exposed: true,
    });
  }
  if (bodyLimit) {
    counters.push({
      Name: "request-body-limit",
      Action: { Count: {} },
      RuleLabels: [{ Name: LABELS.tooLarge }],
      Statement: {
        SizeConstraintStatement: {
          // WAF sees at most the inspection limit of a body; OversizeHandling MATCH makes anything longer match.
          FieldToMatch: { Body: { OversizeHandling: "MATCH" } },
          ComparisonOperator: "GT",
          Size: MAX_BODY_BYTES,
          TextTransformations: [{ Priority: 0, Type: "NONE" }],
        },
      },
      VisibilityConfig: visibility("request-body-limit"),
    });
    refusals.push({
      name: "payload-too-large",
      label: LABELS.tooLarge,
      status: 413,
      body: "payload-too-large",
      headers: [],
      exposed: false,
    });
  }
  const blockers: Array<Omit<WafRule, "Priority">> = refusals.flatMap((refusal) => {
    const block = (headers: Array<{ Name: string; Value: string }>) => ({
      Block: {
        CustomResponse: {
          ResponseCode: refusal.status,
          CustomResponseBodyKey: refusal.body,
          ...(headers.length === 0 ? {} : { ResponseHeaders: headers }),
        },
      },
    });
    const perOrigin = corsOrigins.map((origin, i) => ({
      Name: `${refusal.name}-origin-${i}`,
      Action: block([
        ...refusal.headers,
        { Name: "Access-Control-Allow-Origin", Value: origin },
        ...(refusal.exposed ? [{ Name: "Access-Control-Expose-Headers", Value: CORS_EXPOSED_HEADERS.join(", ") }] : []),
        { Name: "Vary", Value: "Origin" },
      ]),
      Statement: {
        AndStatement: {
          Statements: [
            labelled(refusal.label),
            {
              ByteMatchStatement: {
                FieldToMatch: { SingleHeader: { Name: "origin" } },
                PositionalConstraint: "EXACTLY",
                SearchString: origin,
                TextTransformations: [{ Priority: 0, Type: "NONE" }],
              },
            },
          ],
        },
      },
      VisibilityConfig: visibility(`${refusal.name}-origin-${i}`),
    }));
    return [
      ...perOrigin,
      {
        Name: refusal.name,
        Action: block(refusal.headers),
        Statement: labelled(refusal.label),
        VisibilityConfig: visibility(refusal.name),
      },
    ];
  });
  return [...counters, ...blockers].map((rule, priority) => ({ ...rule, Priority: priority }) as WafRule);
}

/** The 429's message: one body serves both rate rules (they share the label that blocks). */
export function throttledMessage(ofrepRateLimit: number, rateLimit: number): string {
  const limits = [
    ...(rateLimit > 0 ? [`${rateLimit} requests`] : []),
    ...(ofrepRateLimit > 0 ? [`${ofrepRateLimit} OFREP requests`] : []),
  ];
  return (
    `more than ${limits.join(" or ")} from this address in ${RATE_WINDOW_SECONDS} s; ` +
    "retry after the seconds Retry-After gives"
  );
}

/** How many custom response headers the rules set, counted against WAF's per-web-ACL quota. */
export function customResponseHeaderCount(rules: readonly WafRule[]): number {
  return rules.reduce((sum, rule) => {
    const block = (rule.Action as { Block?: { CustomResponse?: { ResponseHeaders?: unknown[] } } }).Block;
    return sum + (block?.CustomResponse?.ResponseHeaders?.length ?? 0);
  }, 0);
}

/**
 * The stage's WAF web ACL: refuses bodies over MAX_BODY_BYTES with the contract's 413 before any
 * Lambda runs (API Gateway itself accepts up to 10 MB), and rate-limits every path, and OFREP
 * lower, per source IP with the contract's 429 THROTTLED and Retry-After; both refusals carry
 * `Access-Control-Allow-Origin` for an allowed origin. Nothing when all are off. Children of
 * `parent`, named after `name`.
 */
export function stageWebAcl(
  name: string,
  stage: aws.apigateway.Stage,
  parent: pulumi.Resource,
  args: StageWebAclArgs,
): void {
  const { ofrepRateLimit, rateLimit } = args;
  for (const [arg, limit] of Object.entries({ ofrepRateLimit, rateLimit })) {
    if (limit !== 0 && !(Number.isInteger(limit) && limit >= RATE_LIMIT_BOUNDS.min && limit <= RATE_LIMIT_BOUNDS.max)) {
      throw new pulumi.ResourceError(
        `${arg} ${limit} must be 0 (off) or a whole number of requests per IP per minute from ` +
          `${RATE_LIMIT_BOUNDS.min} (WAF's lowest) to ${RATE_LIMIT_BOUNDS.max}`,
        parent,
      );
    }
  }
  const rules = webAclRules(args);
  if (rules.length === 0) return;
  const headers = customResponseHeaderCount(rules);
  if (headers > MAX_CUSTOM_RESPONSE_HEADERS) {
    throw new pulumi.ResourceError(
      `${args.corsOrigins.length} corsOrigins need ${headers} WAF custom response headers (each origin's own ` +
        `Access-Control-Allow-Origin on the 413 and 429); a web ACL holds ${MAX_CUSTOM_RESPONSE_HEADERS} ` +
        "by default: list fewer origins, or ask AWS to raise the quota and the check here",
      parent,
    );
  }
  const acl = new aws.wafv2.WebAcl(
    `${name}-waf`,
    {
      scope: "REGIONAL",
      // WAF allows no parentheses in a description.
      description: "Refuses oversized bodies with 413 and floods from one IP with 429",
      defaultAction: { allow: {} },
      associationConfig: { requestBodies: [{ apiGateway: { defaultSizeInspectionLimit: "KB_64" } }] },
      customResponseBodies: [
        ...(args.bodyLimit
          ? [
              {
                key: "payload-too-large",
                contentType: "APPLICATION_JSON",
                content: JSON.stringify(errorBody("PAYLOAD_TOO_LARGE", `request body exceeds ${MAX_BODY_BYTES} bytes`)),
              },
            ]
          : []),
        ...(ofrepRateLimit > 0 || rateLimit > 0
          ? [
              {
                key: "throttled",
                contentType: "APPLICATION_JSON",
                content: JSON.stringify(errorBody("THROTTLED", throttledMessage(ofrepRateLimit, rateLimit))),
              },
            ]
          : []),
      ],
      ruleJson: JSON.stringify(rules),
      visibilityConfig: {
        sampledRequestsEnabled: true,
        cloudwatchMetricsEnabled: true,
        metricName: `${name}-waf`,
      },
    },
    { parent },
  );
  new aws.wafv2.WebAclAssociation(`${name}-waf-stage`, { resourceArn: stage.arn, webAclArn: acl.arn }, { parent });
}
