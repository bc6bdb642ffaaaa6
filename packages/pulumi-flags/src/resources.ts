// eslint-disable-next-line no-restricted-imports -- a Pulumi package
import * as pulumi from "@pulumi/pulumi";
import { evaluatorProvider } from "./evaluatorProvider";
import { type FlagFields, flagProvider } from "./flagProvider";

/** The service a resource lives in. */
export interface ServiceArgs {
  /** The service's base URL: its stack output `apiUrl` (e.g. `flagApi.apiUrl`). */
  url: pulumi.Input<string>;
  /** A token with the `write` scope. Made a secret: the state holds it encrypted. */
  token: pulumi.Input<string>;
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface FlagArgs extends Partial<Inputs<Omit<FlagFields, "flagName">>> {
  service: pulumi.Input<ServiceArgs>;
  /** The flag's name in the service; default the resource's name. Changing it replaces the flag. */
  flagName?: pulumi.Input<string>;
}

export interface EvaluatorArgs {
  service: pulumi.Input<ServiceArgs>;
  /** The evaluator's name in the service; default the resource's name. Changing it replaces it. */
  name?: pulumi.Input<string>;
  /** JsonLogic with flagd's operators. */
  expression: pulumi.Input<unknown>;
}

/**
 * `service` with its token a secret. The whole `service` output is a secret as well
 * (`additionalSecretOutputs`): the state keeps the token, encrypted, because `delete` runs from
 * the state alone (a resource removed from the program has no inputs left).
 */
function secretService(service: pulumi.Input<ServiceArgs>) {
  const resolved = pulumi.output(service);
  return { url: resolved.url, token: pulumi.secret(resolved.token) };
}

const outputsOnly = { version: undefined, createdBy: undefined, updatedBy: undefined, updatedAt: undefined };

/** A flag of a running feature-flags service, managed by this stack (its id is the flag's name). */
export class Flag extends pulumi.dynamic.Resource {
  declare public readonly service: pulumi.Output<{ url: string; token: string }>;
  declare public readonly flagName: pulumi.Output<string>;
  declare public readonly value: pulumi.Output<unknown>;
  declare public readonly variants: pulumi.Output<Record<string, unknown> | undefined>;
  declare public readonly defaultVariant: pulumi.Output<string | null | undefined>;
  declare public readonly targeting: pulumi.Output<Record<string, unknown> | undefined>;
  declare public readonly state: pulumi.Output<"ENABLED" | "DISABLED" | undefined>;
  declare public readonly description: pulumi.Output<string | undefined>;
  declare public readonly metadata: pulumi.Output<Record<string, string | number | boolean> | undefined>;
  declare public readonly clientSide: pulumi.Output<boolean>;
  /** The version the stack last wrote or read; its next write sends it as `If-Match`. */
  declare public readonly version: pulumi.Output<number>;
  declare public readonly createdBy: pulumi.Output<string | null>;
  declare public readonly updatedBy: pulumi.Output<string | null>;
  declare public readonly updatedAt: pulumi.Output<string>;

  constructor(name: string, args: FlagArgs, opts?: pulumi.CustomResourceOptions) {
    const { service, flagName, ...fields } = args;
    super(
      flagProvider,
      name,
      {
        ...outputsOnly,
        value: undefined,
        variants: undefined,
        defaultVariant: undefined,
        targeting: undefined,
        state: undefined,
        description: undefined,
        metadata: undefined,
        clientSide: undefined,
        ...fields,
        service: secretService(service),
        flagName: flagName ?? name,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["service"] }),
      "feature-flags",
      "Flag",
    );
  }
}

/** An evaluator (a shared rule flags reference with `{"$ref": name}`), managed by this stack. */
export class Evaluator extends pulumi.dynamic.Resource {
  declare public readonly service: pulumi.Output<{ url: string; token: string }>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly expression: pulumi.Output<unknown>;
  declare public readonly version: pulumi.Output<number>;
  declare public readonly createdBy: pulumi.Output<string | null>;
  declare public readonly updatedBy: pulumi.Output<string | null>;
  declare public readonly updatedAt: pulumi.Output<string>;

  constructor(resourceName: string, args: EvaluatorArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      evaluatorProvider,
      resourceName,
      {
        ...outputsOnly,
        service: secretService(args.service),
        name: args.name ?? resourceName,
        expression: args.expression,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["service"] }),
      "feature-flags",
      "Evaluator",
    );
  }
}
