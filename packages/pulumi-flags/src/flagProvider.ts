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

/** A flag's own fields as the contract names them (CONTRACT.md, "Flag"). */
export interface FlagFields {
  flagName: string;
  value?: unknown;
  variants?: Record<string, unknown>;
  defaultVariant?: string | null;
  targeting?: Record<string, unknown>;
  state?: "ENABLED" | "DISABLED";
  description?: string;
  metadata?: Record<string, string | number | boolean>;
  clientSide?: boolean;
}

/** What the engine passes to `create` and, as `news`, to `diff` and `update`. */
export interface FlagInputs extends FlagFields {
  service: ServiceRef;
}

/** What the state holds: the flag as the service holds it, plus its service. */
export interface FlagOutputs extends FlagInputs {
  version: number;
  createdBy: string | null;
  updatedBy: string | null;
  updatedAt: string;
}

/** The fields the provider compares and writes; `flagName` is compared on its own (a rename replaces). */
const COMPARED = [
  "value",
  "variants",
  "defaultVariant",
  "targeting",
  "state",
  "description",
  "metadata",
  "clientSide",
] as const;

const isEmptyObject = (value: unknown): boolean =>
  value === undefined ||
  (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);

/**
 * The flag's fields as the service would hold them after writing these, so that what a program
 * declares and what a read returns compare equal when they mean the same flag: a rich flag's
 * `value` is its default variant's, `state` is `ENABLED`, `clientSide` false and `defaultVariant`
 * null unless given, an empty description, targeting or metadata is none.
 */
export function normalizeFlag(fields: Partial<FlagFields>): Record<(typeof COMPARED)[number], unknown> {
  const variants = isEmptyObject(fields.variants) ? undefined : fields.variants;
  const defaultVariant = variants === undefined ? null : (fields.defaultVariant ?? null);
  let value = fields.value;
  if (value === undefined && variants !== undefined && defaultVariant !== null) value = variants[defaultVariant];
  return {
    value,
    variants,
    defaultVariant,
    targeting: isEmptyObject(fields.targeting) ? undefined : fields.targeting,
    state: fields.state ?? "ENABLED",
    description: fields.description === "" ? undefined : fields.description,
    metadata: isEmptyObject(fields.metadata) ? undefined : fields.metadata,
    clientSide: fields.clientSide ?? false,
  };
}

/** The contract's fields that differ between what the state holds and what the program declares. */
export function changedFlagFields(olds: Partial<FlagFields>, news: Partial<FlagFields>): string[] {
  const before = normalizeFlag(olds);
  const after = normalizeFlag(news);
  return COMPARED.filter((field) => !sameJson(before[field], after[field]));
}

/**
 * The body of `POST /flags` or `PUT /flags/{flagName}`. A PUT replaces the value and the rich
 * fields but keeps a description or `clientSide` it is not sent, so an update sends both: an
 * empty description to clear one the program no longer declares.
 */
function flagBody(inputs: FlagInputs, forUpdate: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { flagName: inputs.flagName };
  for (const field of ["value", "variants", "defaultVariant", "targeting", "state", "metadata"] as const) {
    if (inputs[field] !== undefined) body[field] = inputs[field];
  }
  if (inputs.description !== undefined || forUpdate) body.description = inputs.description ?? "";
  body.clientSide = inputs.clientSide ?? false;
  return body;
}

/** The state's outputs for the flag the service answered with. */
function flagOutputs(flag: ServiceBody, service: ServiceRef): FlagOutputs {
  const outputs: Record<string, unknown> = { service, flagName: flag.flagName };
  for (const field of ["value", "variants", "targeting", "state", "metadata"] as const) {
    if (flag[field] !== undefined) outputs[field] = flag[field];
  }
  if (flag.variants !== undefined) outputs.defaultVariant = flag.defaultVariant ?? null;
  if (typeof flag.description === "string" && flag.description !== "") outputs.description = flag.description;
  outputs.clientSide = flag.clientSide === true;
  outputs.version = flag.version;
  outputs.createdBy = flag.createdBy ?? null;
  outputs.updatedBy = flag.updatedBy ?? null;
  outputs.updatedAt = flag.updatedAt;
  return outputs as unknown as FlagOutputs;
}

/** The error for a write the service refused because the flag moved on: who moved it, and to what. */
async function flagConflict(service: ServiceRef, flagName: string, lastSeen: number): Promise<Error> {
  const current = await callService(service, "GET", `/flags/${segment(flagName)}`);
  const now =
    current.status === 200
      ? `it is now at ${describeVersion(current.body)}`
      : current.status === 404
        ? "it has since been deleted"
        : `reading it failed (${current.status} ${errorCode(current) ?? ""})`;
  return new Error(
    `VERSION_CONFLICT: flag '${flagName}' was changed outside this stack: the stack last saw version ${lastSeen}, ` +
      `${now}. Nothing was overwritten. Run \`pulumi refresh\` to take that change into the stack, ` +
      `then \`pulumi up\` to apply the program's definition over it.`,
  );
}

/**
 * Manages one flag of a running service. The id is the flag's name; `update` writes with
 * `If-Match` of the version the state holds, so a change someone made since is an error naming
 * them rather than being overwritten.
 */
export const flagProvider: pulumi.dynamic.ResourceProvider = {
  /** At `pulumi preview`: what the service would refuse for certain, before anything is written. */
  async check(_olds: unknown, news: FlagInputs): Promise<pulumi.dynamic.CheckResult> {
    const failures = [...checkService(news.service), ...checkName("flagName", news.flagName)];
    if (news.value === undefined && news.variants === undefined) {
      failures.push({ property: "value", reason: "a flag needs a value, or variants (with a defaultVariant)" });
    }
    if (news.value === null) failures.push({ property: "value", reason: "null is not a flag value" });
    return { inputs: news, failures };
  },

  async create(inputs: FlagInputs): Promise<pulumi.dynamic.CreateResult> {
    const response = await callService(inputs.service, "POST", "/flags", { body: flagBody(inputs, false) });
    if (response.status === 201)
      return { id: String(response.body.flagName), outs: flagOutputs(response.body, inputs.service) };
    if (errorCode(response) === "FLAG_EXISTS") {
      const existing = await callService(inputs.service, "GET", `/flags/${segment(inputs.flagName)}`);
      const held = existing.status === 200 ? ` (${describeVersion(existing.body)})` : "";
      throw new Error(
        `FLAG_EXISTS: flag '${inputs.flagName}' already exists in ${inputs.service.url}${held}; ` +
          "this stack does not take over a flag it did not create: pick another flagName, or delete that flag first",
      );
    }
    throw serviceFailure(`creating flag '${inputs.flagName}'`, response);
  },

  async read(id: string, props: FlagOutputs): Promise<pulumi.dynamic.ReadResult> {
    const response = await callService(props.service, "GET", `/flags/${segment(id)}`);
    // Gone: a blank id tells the engine (`pulumi refresh`) the resource no longer exists.
    if (response.status === 404) return {};
    if (response.status !== 200) throw serviceFailure(`reading flag '${id}'`, response);
    return { id, props: flagOutputs(response.body, props.service) };
  },

  async diff(_id: string, olds: FlagOutputs, news: FlagInputs): Promise<pulumi.dynamic.DiffResult> {
    if (olds.flagName !== news.flagName) return { changes: true, replaces: ["flagName"] };
    const changed = changedFlagFields(olds, news);
    const serviceChanged = !sameJson(olds.service, news.service);
    return { changes: changed.length > 0 || serviceChanged, replaces: [] };
  },

  async update(id: string, olds: FlagOutputs, news: FlagInputs): Promise<pulumi.dynamic.UpdateResult> {
    if (changedFlagFields(olds, news).length === 0) {
      // Only the service reference changed (a new token, another URL for it): nothing to write,
      // but the flag must be there, at the version the state holds.
      const current = await callService(news.service, "GET", `/flags/${segment(id)}`);
      if (current.status === 404) throw deletedOutside("flag", id);
      if (current.status !== 200) throw serviceFailure(`reading flag '${id}'`, current);
      if (current.body.version !== olds.version) throw await flagConflict(news.service, id, olds.version);
      return { outs: flagOutputs(current.body, news.service) };
    }
    const response = await callService(news.service, "PUT", `/flags/${segment(id)}`, {
      body: flagBody(news, true),
      ifMatch: olds.version,
    });
    if (response.status === 200) return { outs: flagOutputs(response.body, news.service) };
    if (response.status === 412) throw await flagConflict(news.service, id, olds.version);
    if (response.status === 404) throw deletedOutside("flag", id);
    throw serviceFailure(`updating flag '${id}'`, response);
  },

  async delete(id: string, props: FlagOutputs): Promise<void> {
    const response = await callService(props.service, "DELETE", `/flags/${segment(id)}`);
    // A flag that is already gone is what deleting wants.
    if (response.status === 204 || response.status === 404) return;
    if (errorCode(response) === "DELETION_DISABLED") {
      throw new Error(
        `DELETION_DISABLED: the service refused to delete flag '${id}': flag deletion is switched off ` +
          "(the service stack's allowFlagDeletion config). The flag is untouched. Switch deletion on, " +
          `or keep the flag in the program (or \`pulumi state delete\` it to stop managing it).`,
      );
    }
    throw serviceFailure(`deleting flag '${id}'`, response);
  },
};
