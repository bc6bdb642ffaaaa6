import { EXIT, UserError } from "../errors";
import type { Io } from "../io";
import { hasChanges, planPromotion } from "../plan";
import { renderPlan } from "../render";
import { endpoint, getFlagset, isUrl, loadSource, readBoth } from "../service";

export interface DiffOptions {
  from: string;
  to: string;
  prune?: boolean;
}

/**
 * `diff --from <url|file> --to <url> [--prune]`: prints what `promote` with the same options would
 * do; exit 0 when it would change nothing, 1 when it would change something.
 */
export async function diffCommand(options: DiffOptions, io: Io): Promise<number> {
  if (!isUrl(options.to)) throw new UserError(`--to must be a service URL (http:// or https://), not ${options.to}`);
  const [source, target] = await readBoth(
    loadSource(options.from, io.env),
    getFlagset(endpoint(options.to, "to", io.env)),
  );
  const plan = planPromotion(source, target.document, options.prune === true);
  io.stdout.write(renderPlan(plan, options.from, options.to));
  return hasChanges(plan) ? EXIT.different : EXIT.ok;
}
