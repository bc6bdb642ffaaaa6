import { writeFile } from "node:fs/promises";
import { EXIT, UserError } from "../errors";
import type { Io } from "../io";
import { endpoint, getFlagset, isUrl } from "../service";

export interface ExportOptions {
  from: string;
  output?: string;
}

/** `export --from <url> [-o file]`: the service's flags and evaluators as one flagd document. */
export async function exportCommand(options: ExportOptions, io: Io): Promise<number> {
  if (!isUrl(options.from))
    throw new UserError(`--from must be a service URL (http:// or https://), not ${options.from}`);
  const { document } = await getFlagset(endpoint(options.from, "from", io.env));
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (options.output === undefined) {
    io.stdout.write(text);
    return EXIT.ok;
  }
  try {
    await writeFile(options.output, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`cannot write ${options.output}${code === undefined ? "" : ` (${code})`}`, { cause: error });
  }
  const flags = Object.keys(document.flags).length;
  const evaluators = Object.keys(document.$evaluators ?? {}).length;
  io.stderr.write(`Wrote ${flags} flag(s) and ${evaluators} evaluator(s) to ${options.output}\n`);
  return EXIT.ok;
}
