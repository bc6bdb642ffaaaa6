/**
 * Checks made before anything starts, so that a start-up that cannot succeed says why in one line
 * within seconds instead of hanging in a JVM or failing with a stack trace.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A start-up failure the user can fix: its message is one line saying what is wrong and what to do. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** The oldest Java DynamoDB Local runs on. */
export const MIN_JAVA_VERSION = 17;

/** DynamoDB Local's database file in `-sharedDb` mode. */
export const DATABASE_FILE = "shared-local-instance.db";

const JAVA_INSTALL_HINT =
  "install Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) " +
  "and put `java` on PATH";

/** The major version in `java -version` output: `"17.0.15"` → 17, `"1.8.0_392"` → 8. */
export function javaMajorVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) return undefined;
  const major = Number(match[1]);
  return major === 1 && match[2] !== undefined ? Number(match[2]) : major;
}

/** Fails unless `java` on PATH is 17 or newer. */
export async function checkJava(timeoutMs = 10_000): Promise<void> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile("java", ["-version"], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") {
        reject(
          new StartupError(`Java not found: DynamoDB Local needs Java ${MIN_JAVA_VERSION}+; ${JAVA_INSTALL_HINT}`),
        );
      } else if (error !== null && error.killed) {
        reject(
          new StartupError(`\`java -version\` did not answer within ${timeoutMs / 1000} s; check your Java install`),
        );
      } else {
        resolve(`${stdout}${stderr}`);
      }
    });
  });
  const version = javaMajorVersion(output);
  if (version === undefined) {
    throw new StartupError(
      `could not read the version of \`java\` on PATH (${output.trim().split("\n")[0]}); ${JAVA_INSTALL_HINT}`,
    );
  }
  if (version < MIN_JAVA_VERSION) {
    throw new StartupError(
      `Java ${version} found, but DynamoDB Local needs Java ${MIN_JAVA_VERSION}+; ${JAVA_INSTALL_HINT}`,
    );
  }
}

/** Fails unless files can be created in `dir` (creating it if needed). */
export function checkDataDirWritable(dir: string): void {
  const probe = path.join(dir, `.write-check-${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, "");
    fs.unlinkSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new StartupError(
      `data dir ${dir} is not writable (${code}): set FLAGS_DATA_DIR to a writable directory, or FLAGS_IN_MEMORY=1`,
    );
  }
}

/** The message for a database file DynamoDB Local cannot open. Never deletes it: it holds the user's flags. */
export const corruptDatabase = (file: string): StartupError =>
  new StartupError(
    `database file ${file} is corrupt (not a readable SQLite database); move it away to start empty ` +
      `(it was left untouched), or set FLAGS_DATA_DIR to another directory`,
  );

/** Fails if the data dir holds a database file that is not SQLite (checked from its header). */
export function checkDatabaseFile(dir: string): void {
  const file = path.join(dir, DATABASE_FILE);
  let header: Buffer;
  try {
    const fd = fs.openSync(file, "r");
    try {
      header = Buffer.alloc(16);
      const read = fs.readSync(fd, header, 0, 16, 0);
      if (read === 0) return;
      header = header.subarray(0, read);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new StartupError(`cannot read database file ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!header.equals(Buffer.from("SQLite format 3\0", "latin1"))) throw corruptDatabase(file);
}
