/** The local runtime's audit trail as a test reads it: every line of its NDJSON files under a data dir. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { AuditLine } from "../../handlers/audit/records";

/** Every line of the trail under `dataDir/audit`, file by file, in file order. */
export function auditLines(dataDir: string): AuditLine[] {
  const root = path.join(dataDir, "audit");
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ndjson"))
    .flatMap((file) => fs.readFileSync(path.join(root, file), "utf8").split("\n"))
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as AuditLine);
}
