import type { RecordedResource } from "./pulumiMocks";

/** What a WAF rule sees of a request, in the terms the stage's rules inspect. */
export interface WafRequest {
  /** The URI path as API Gateway receives it, stage included (`/dev/ofrep/v1/...`). */
  path: string;
  origin?: string;
  bodyBytes?: number;
  /**
   * Requests the source IP sent earlier in the rate rules' window, by URI path (stage included).
   * Each rate-based rule counts those its scope-down matches, and this request if it matches, and
   * applies once that count exceeds its limit. Absent: none, as for any other address.
   */
  recent?: Readonly<Record<string, number>>;
}

/** A Block action's custom response. */
export interface WafAnswer {
  rule: string;
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** A recorded web ACL's rules (its `ruleJson`), in the order WAF evaluates them. */
export function rulesOf(acl: RecordedResource): any[] {
  return (JSON.parse(acl.inputs.ruleJson) as any[]).sort((a, b) => a.Priority - b.Priority);
}

function matches(statement: any, request: WafRequest, labels: Set<string>): boolean {
  const [[type, spec]] = Object.entries(statement) as Array<[string, any]>;
  const fieldOf = (field: any): string | undefined => {
    if (field.UriPath !== undefined) return request.path;
    if (field.SingleHeader?.Name?.toLowerCase() === "origin") return request.origin;
    throw new Error(`field not modelled: ${JSON.stringify(field)}`);
  };
  switch (type) {
    case "AndStatement":
      return spec.Statements.every((s: any) => matches(s, request, labels));
    case "OrStatement":
      return spec.Statements.some((s: any) => matches(s, request, labels));
    case "NotStatement":
      return !matches(spec.Statement, request, labels);
    case "LabelMatchStatement":
      if (spec.Scope !== "LABEL") throw new Error(`label scope not modelled: ${spec.Scope}`);
      return [...labels].some((label) => label === spec.Key || label.endsWith(`:${spec.Key}`));
    case "SizeConstraintStatement":
      if (spec.FieldToMatch.Body === undefined || spec.ComparisonOperator !== "GT") {
        throw new Error(`size constraint not modelled: ${JSON.stringify(spec)}`);
      }
      return (request.bodyBytes ?? 0) > spec.Size;
    case "ByteMatchStatement": {
      if (spec.TextTransformations.some((t: any) => t.Type !== "NONE")) throw new Error("transformations not modelled");
      const value = fieldOf(spec.FieldToMatch);
      if (value === undefined) return false;
      switch (spec.PositionalConstraint) {
        case "EXACTLY":
          return value === spec.SearchString;
        case "CONTAINS":
          return value.includes(spec.SearchString);
        case "STARTS_WITH":
          return value.startsWith(spec.SearchString);
        default:
          throw new Error(`positional constraint not modelled: ${spec.PositionalConstraint}`);
      }
    }
    case "RateBasedStatement": {
      if (spec.AggregateKeyType !== "IP") throw new Error(`rate aggregation not modelled: ${spec.AggregateKeyType}`);
      const scope = spec.ScopeDownStatement;
      // Earlier requests are known by path only, so a scope-down may inspect nothing else.
      if (scope !== undefined && /SingleHeader|Body|QueryString|Method/.test(JSON.stringify(scope))) {
        throw new Error(`rate scope-down beyond the URI path not modelled: ${JSON.stringify(scope)}`);
      }
      const inScope = (path: string) => scope === undefined || matches(scope, { path }, new Set());
      if (!inScope(request.path)) return false;
      const earlier = Object.entries(request.recent ?? {})
        .filter(([path]) => inScope(path))
        .reduce((sum, [, count]) => sum + count, 0);
      return earlier + 1 > spec.Limit;
    }
    default:
      throw new Error(`statement not modelled: ${type}`);
  }
}

/**
 * What the web ACL answers `request`, evaluating its rules as WAF does: in priority order, COUNT
 * adding the rule's labels and going on, the first BLOCK (or ALLOW) ending it. Undefined: the
 * request goes through to API Gateway. Throws on anything it does not model, so a rule it cannot
 * read never passes for one that matches nothing.
 */
export function wafAnswer(acl: RecordedResource, request: WafRequest): WafAnswer | undefined {
  const labels = new Set<string>();
  const bodies = new Map<string, string>(
    (acl.inputs.customResponseBodies ?? []).map((b: { key: string; content: string }) => [b.key, b.content]),
  );
  for (const rule of rulesOf(acl)) {
    if (!matches(rule.Statement, request, labels)) continue;
    if (rule.Action.Count !== undefined) {
      for (const label of rule.RuleLabels ?? []) labels.add(label.Name);
      continue;
    }
    if (rule.Action.Allow !== undefined) return undefined;
    const custom = rule.Action.Block?.CustomResponse;
    if (custom === undefined) throw new Error(`${rule.Name}: a block without a custom response is WAF's bare 403`);
    const body = bodies.get(custom.CustomResponseBodyKey);
    if (body === undefined) throw new Error(`${rule.Name}: no response body '${custom.CustomResponseBodyKey}'`);
    return {
      rule: rule.Name,
      status: custom.ResponseCode,
      headers: Object.fromEntries((custom.ResponseHeaders ?? []).map((h: any) => [h.Name, h.Value])),
      body: JSON.parse(body),
    };
  }
  return undefined;
}
