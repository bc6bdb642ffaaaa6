/**
 * Each function's deployed code, bundled (what `ServiceFunction` ships) next to Pulumi's default
 * CallbackFunction packaging of the same serialized callback (every `dependencies` package, the
 * AWS SDK left out): unpacked size, and cold init — a fresh Node process that requires
 * `__index.js` (which runs the factory), median of `runs`.
 */
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { runtimeProvidedPackages } from "../components/packaging";
import type { ServiceFunction } from "../components/serviceFunction";
import { materialize, type UnpackedArchive, unpack } from "../tests/support/artifacts";
import { runProgram } from "../tests/support/pulumiMocks";

export interface ArchiveRow {
  function: string;
  bundledBytes: number;
  defaultBytes: number;
  bundledInitMs: number;
  defaultInitMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function coldInitMs(artifact: UnpackedArchive, env: Record<string, string>, runs: number): number {
  const script = `const t = performance.now(); require(${JSON.stringify(artifact.indexPath)}); console.log(performance.now() - t);`;
  const samples = Array.from({ length: runs }, () =>
    Number(
      execFileSync(process.execPath, ["-e", script], {
        encoding: "utf8",
        env: { ...process.env, AWS_REGION: "eu-west-1", ...env },
        stdio: ["ignore", "pipe", "ignore"],
      }),
    ),
  );
  return median(samples);
}

/** The archive `aws.lambda.CallbackFunction` would upload for the same factory. */
async function defaultPackaging(factory: () => unknown): Promise<UnpackedArchive> {
  const serialized = await pulumi.runtime.serializeFunction(factory, {
    exportName: "handler",
    isFactoryFunction: true,
    allowSecrets: true,
  });
  const modules = await pulumi.runtime.computeCodePaths({
    extraExcludePackages: [...runtimeProvidedPackages(), "aws-sdk"],
  });
  const assets: Record<string, unknown> = { "__index.js": new pulumi.asset.StringAsset(serialized.text) };
  for (const [path, asset] of modules) assets[path] = asset;
  return unpack(assets as Parameters<typeof unpack>[0]);
}

export async function archiveTable(runs = 10): Promise<ArchiveRow[]> {
  const resources = await runProgram();
  // The registry of the program runProgram just loaded (it reloads components/ each run).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the freshly loaded module instance
  const { ServiceFunction: Loaded } = require("../components/serviceFunction") as {
    ServiceFunction: typeof ServiceFunction;
  };
  const rows: ArchiveRow[] = [];
  for (const fn of Loaded.created()) {
    const resource = resources.find((r) => r.type === "aws:lambda/function:Function" && r.name === fn.name);
    if (resource === undefined) throw new Error(`no function resource named ${fn.name}`);
    const env: Record<string, string> = resource.inputs.environment?.variables ?? {};
    const bundled = await materialize(resource);
    const original = await defaultPackaging(fn.callbackFactory);
    rows.push({
      function: fn.name,
      bundledBytes: bundled.bytes,
      defaultBytes: original.bytes,
      bundledInitMs: coldInitMs(bundled, env, runs),
      defaultInitMs: coldInitMs(original, env, runs),
    });
  }
  return rows;
}
