import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Packages the `nodejs22.x` Lambda runtime already provides: every installed `@aws-sdk/*`.
 * Pulumi copies each `dependencies` package and its dependency tree into every callback's
 * archive; excluding these by name also prunes the Smithy packages only they pull in.
 */
export function runtimeProvidedPackages(projectRoot: string = process.cwd()): string[] {
  const scopeDir = path.join(projectRoot, "node_modules", "@aws-sdk");
  if (!fs.existsSync(scopeDir)) return [];
  return fs.readdirSync(scopeDir).map((name) => `@aws-sdk/${name}`);
}
