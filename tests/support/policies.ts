import type { RecordedResource } from "./pulumiMocks";

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}

export const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

/** The statements of an inline role policy or a bucket/topic/queue policy as recorded under mocks. */
export const statementsOf = (policy: RecordedResource): Statement[] => JSON.parse(policy.inputs.policy).Statement;

/** Grants of a role policy beyond its own logs and traces, as `{actions (sorted), resources}`. */
export const dataGrants = (policy: RecordedResource) =>
  statementsOf(policy)
    .filter((s) => !asList(s.Action).some((a) => a.startsWith("logs:") || a.startsWith("xray:")))
    .map((s) => ({ actions: asList(s.Action).sort(), resources: asList(s.Resource) }));
