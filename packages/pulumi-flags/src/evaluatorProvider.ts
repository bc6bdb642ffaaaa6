// eslint-disable-next-line no-restricted-imports -- a Pulumi package: only types, erased at build
import type * as pulumi from "@pulumi/pulumi";
import {
  callService,
  checkName,
  checkService,
  deletedOutside,
  describeVersion,
  errorCode,
  type ServiceBody,
  type ServiceRef,
  sameJson,
  segment,
  serviceFailure,
} from "./service";

/** What the engine passes to `create` and, as `news`, to `diff` and `update`. */
export interface EvaluatorInputs {
  service: ServiceRef;
  /** The name flags reference it by: `{"$ref": name}`. */
  name: string;
  /** JsonLogic, with flagd's operators. */
  expression: unknown;
}

/** What the state holds: the evaluator as the service holds it, plus its service. */
export interface EvaluatorOutputs extends EvaluatorInputs {
  version: number;
  createdBy: string | null;
  updatedBy: string | null;
  updatedAt: string;
}

function evaluatorOutputs(evaluator: ServiceBody, service: ServiceRef): EvaluatorOutputs {
  const outputs: Record<string, unknown> = {
    service,
    name: evaluator.name,
    expression: evaluator.expression,
    version: evaluator.version,
    createdBy: evaluator.createdBy ?? null,
    updatedBy: evaluator.updatedBy ?? null,
    updatedAt: evaluator.updatedAt,
  };
  return outputs as unknown as EvaluatorOutputs;
}

const path = (name: string) => `/evaluators/${segment(name)}`;

async function evaluatorConflict(service: ServiceRef, name: string, lastSeen: number): Promise<Error> {
  const current = await callService(service, "GET", path(name));
  const now =
    current.status === 200
      ? `it is now at ${describeVersion(current.body)}`
      : current.status === 404
        ? "it has since been deleted"
        : `reading it failed (${current.status} ${errorCode(current) ?? ""})`;
  return new Error(
    `VERSION_CONFLICT: evaluator '${name}' was changed outside this stack: the stack last saw version ${lastSeen}, ` +
      `${now}. Nothing was overwritten. Run \`pulumi refresh\` to take that change into the stack, ` +
      `then \`pulumi up\` to apply the program's expression over it.`,
  );
}

/**
 * Manages one evaluator (a shared rule flags reference with `{"$ref": name}`) of a running
 * service. The id is its name; `update` writes with `If-Match` of the version the state holds.
 */
export const evaluatorProvider: pulumi.dynamic.ResourceProvider = {
  /** At `pulumi preview`: what the service would refuse for certain, before anything is written. */
  async check(_olds: unknown, news: EvaluatorInputs): Promise<pulumi.dynamic.CheckResult> {
    const failures = [...checkService(news.service), ...checkName("name", news.name)];
    if (news.expression === undefined) failures.push({ property: "expression", reason: "expression is required" });
    return { inputs: news, failures };
  },

  async create(inputs: EvaluatorInputs): Promise<pulumi.dynamic.CreateResult> {
    // `PUT /evaluators/{name}` without If-Match creates or replaces: look first, so an evaluator
    // someone else made is never taken over. (A create racing this look-up between the two calls
    // would still be replaced; the service has no create-only form for evaluators.)
    const existing = await callService(inputs.service, "GET", path(inputs.name));
    if (existing.status === 200) {
      throw new Error(
        `EVALUATOR_EXISTS: evaluator '${inputs.name}' already exists in ${inputs.service.url} ` +
          `(${describeVersion(existing.body)}); this stack does not take over an evaluator it did not create: ` +
          "pick another name, or delete that evaluator first",
      );
    }
    if (existing.status !== 404) throw serviceFailure(`reading evaluator '${inputs.name}'`, existing);
    const response = await callService(inputs.service, "PUT", path(inputs.name), {
      body: { expression: inputs.expression },
    });
    if (response.status !== 201 && response.status !== 200) {
      throw serviceFailure(`creating evaluator '${inputs.name}'`, response);
    }
    return { id: String(response.body.name), outs: evaluatorOutputs(response.body, inputs.service) };
  },

  async read(id: string, props: EvaluatorOutputs): Promise<pulumi.dynamic.ReadResult> {
    const response = await callService(props.service, "GET", path(id));
    if (response.status === 404) return {};
    if (response.status !== 200) throw serviceFailure(`reading evaluator '${id}'`, response);
    return { id, props: evaluatorOutputs(response.body, props.service) };
  },

  async diff(_id: string, olds: EvaluatorOutputs, news: EvaluatorInputs): Promise<pulumi.dynamic.DiffResult> {
    if (olds.name !== news.name) return { changes: true, replaces: ["name"] };
    const changes = !sameJson(olds.expression, news.expression) || !sameJson(olds.service, news.service);
    return { changes, replaces: [] };
  },

  async update(id: string, olds: EvaluatorOutputs, news: EvaluatorInputs): Promise<pulumi.dynamic.UpdateResult> {
    if (sameJson(olds.expression, news.expression)) {
      // Only the service reference changed: nothing to write, but it must be there, unchanged.
      const current = await callService(news.service, "GET", path(id));
      if (current.status === 404) throw deletedOutside("evaluator", id);
      if (current.status !== 200) throw serviceFailure(`reading evaluator '${id}'`, current);
      if (current.body.version !== olds.version) throw await evaluatorConflict(news.service, id, olds.version);
      return { outs: evaluatorOutputs(current.body, news.service) };
    }
    const response = await callService(news.service, "PUT", path(id), {
      body: { expression: news.expression },
      ifMatch: olds.version,
    });
    if (response.status === 200) return { outs: evaluatorOutputs(response.body, news.service) };
    if (response.status === 412) throw await evaluatorConflict(news.service, id, olds.version);
    throw serviceFailure(`updating evaluator '${id}'`, response);
  },

  async delete(id: string, props: EvaluatorOutputs): Promise<void> {
    const response = await callService(props.service, "DELETE", path(id));
    if (response.status === 204 || response.status === 404) return;
    // EVALUATOR_IN_USE (a flag still references it) and DELETION_DISABLED name themselves.
    throw serviceFailure(`deleting evaluator '${id}'`, response);
  },
};
