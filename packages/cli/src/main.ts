import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { diffCommand } from "./commands/diff";
import { exportCommand } from "./commands/export";
import { promoteCommand } from "./commands/promote";
import { EXIT, UserError } from "./errors";
import { type Io, processIo } from "./io";

const TOKENS_HELP = `
Tokens: --from URLs use FLAGS_FROM_TOKEN, --to URLs FLAGS_TO_TOKEN; either falls back to FLAGS_TOKEN.
Exit codes: 0 success (diff: no difference), 1 diff found a difference (or promote was declined), 2 error.`;

// dist/main.js and src/main.ts both sit one folder below the package.json.
const VERSION = (JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { version: string })
  .version;

function program(io: Io, setExitCode: (code: number) => void): Command {
  const cli = new Command("feature-flags")
    .description("Flags as code: export a service's flags, diff two environments, promote one onto another.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError("(run feature-flags --help for usage)")
    .addHelpText("after", TOKENS_HELP);

  cli
    .command("export")
    .description("write every flag and evaluator of a service as one flagd flag-set document")
    .requiredOption("--from <url>", "the service's base URL")
    .option("-o, --output <file>", "write to this file instead of standard output")
    .action(async (options) => setExitCode(await exportCommand(options, io)));

  cli
    .command("diff")
    .description("show what promote would change in --to; exit 0 when nothing, 1 when something")
    .requiredOption("--from <source>", "a service's base URL or a flagd document file")
    .requiredOption("--to <url>", "the target service's base URL")
    .addOption(new Option("--prune", "count flags and evaluators --from lacks as deletions"))
    .action(async (options) => setExitCode(await diffCommand(options, io)));

  cli
    .command("promote")
    .description("write the flags and evaluators of --from onto --to (PUT /flagset with If-Match)")
    .requiredOption("--from <source>", "a service's base URL or a flagd document file")
    .requiredOption("--to <url>", "the target service's base URL")
    .option("--prune", "delete flags and evaluators --from lacks (otherwise they are kept)")
    .option("-y, --yes", "apply without asking")
    .action(async (options) => setExitCode(await promoteCommand(options, io)));

  return cli;
}

/** Runs the CLI on `argv` (as `process.argv`) and returns the exit code; never throws. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  try {
    await program(io, (code) => (exitCode = code)).parseAsync(argv);
    return exitCode;
  } catch (error) {
    // Commander has printed its own message (unknown option, missing --to, --help...).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    if (error instanceof UserError) {
      io.stderr.write(`feature-flags: ${error.message}\n`);
      return EXIT.error;
    }
    io.stderr.write(
      `feature-flags: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.error;
  }
}
