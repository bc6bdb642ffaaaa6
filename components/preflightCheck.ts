import type * as pulumi from "@pulumi/pulumi";

/** What every pre-flight check is given: where the stack deploys, with whose credentials. */
export interface PreflightInputs {
  region: string;
  /** The AWS profile the stack deploys with (`aws:profile`), if any. */
  profile?: string;
}

/**
 * One account prerequisite that a deployment would otherwise trip over halfway through: how to
 * read it with the deployer's credentials, and what to say when it is missing or unreadable.
 */
export interface Preflight<I extends PreflightInputs, S> {
  /** The check resource's id, before `-<region>`. */
  id: string;
  /** The stack config key a failure is reported on (what the operator sets to fix it). */
  property: string;
  /** Reads the account's state (an AWS SDK call with the deployer's credentials). */
  read(inputs: I): Promise<S>;
  /** Why the deployment would fail, as what to do; undefined when it will work. */
  problem(state: S, inputs: I): string | undefined;
  /** The failure when `read` failed: which permission the deploying identity needs. */
  unreadable(inputs: I, error: Error): string;
}

/**
 * The check at `pulumi preview` and on the first `pulumi up`: fails with what to do instead of a
 * resource that fails halfway through a deployment. Once the stack exists (there are old inputs)
 * it does not check again, so what the stack itself creates never trips it.
 */
export async function runPreflight<I extends PreflightInputs, S>(
  check: Preflight<I, S>,
  olds: Partial<I> | undefined,
  news: I,
): Promise<pulumi.dynamic.CheckResult> {
  if (olds !== undefined && Object.keys(olds).length > 0) return { inputs: news };
  let problem: string | undefined;
  try {
    problem = check.problem(await check.read(news), news);
  } catch (error) {
    problem = check.unreadable(news, error as Error);
  }
  return problem === undefined
    ? { inputs: news }
    : { inputs: news, failures: [{ property: check.property, reason: problem }] };
}

/** The dynamic provider of a check: `check` does the work, `create` records the inputs. */
export function preflightProvider<I extends PreflightInputs, S>(
  check: Preflight<I, S>,
): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds: Partial<I> | undefined, news: I) => runPreflight(check, olds, news),
    async create(inputs: I) {
      return { id: `${check.id}-${inputs.region}`, outs: inputs };
    },
  };
}
