import { createInterface } from "node:readline/promises";
import { EXIT, UserError } from "../errors";
import type { Io } from "../io";
import { hasChanges, planPromotion } from "../plan";
import { renderPlan } from "../render";
import { describeSummary, endpoint, getFlagset, isUrl, loadSource, putFlagset, readBoth } from "../service";

export interface PromoteOptions {
  from: string;
  to: string;
  prune?: boolean;
  yes?: boolean;
}

async function confirm(io: Io, question: string): Promise<boolean> {
  const prompt = createInterface({ input: io.stdin, output: io.stdout });
  try {
    const answer = await prompt.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/**
 * `promote --from <url|file> --to <url> [--prune] [--yes]`: shows the diff, asks (unless `--yes`),
 * then writes the source onto the target with `PUT /flagset`, `If-Match` the target's version the
 * diff was computed against — so a change made in between fails with VERSION_CONFLICT instead of
 * being overwritten.
 */
export async function promoteCommand(options: PromoteOptions, io: Io): Promise<number> {
  if (!isUrl(options.to)) throw new UserError(`--to must be a service URL (http:// or https://), not ${options.to}`);
  const prune = options.prune === true;
  const to = endpoint(options.to, "to", io.env);
  const [source, target] = await readBoth(loadSource(options.from, io.env), getFlagset(to));
  if (target.etag === undefined) {
    throw new UserError(
      `GET ${options.to} sent no ETag, so a promotion could overwrite someone's change; not promoting`,
    );
  }
  const plan = planPromotion(source, target.document, prune);
  io.stdout.write(renderPlan(plan, options.from, options.to));
  if (!hasChanges(plan)) {
    io.stdout.write("Nothing to promote.\n");
    return EXIT.ok;
  }
  if (options.yes !== true) {
    if (io.stdin.isTTY !== true) {
      throw new UserError(
        "not promoting: standard input is not a terminal to ask on; pass --yes to promote without asking",
      );
    }
    if (!(await confirm(io, `Apply these changes to ${options.to}? [y/N] `))) {
      io.stdout.write("Not promoted; nothing changed.\n");
      return EXIT.different;
    }
  }
  const summary = await putFlagset(to, source, { prune, ifMatch: target.etag });
  io.stdout.write(`Promoted: ${describeSummary(summary)}.\n`);
  return EXIT.ok;
}
