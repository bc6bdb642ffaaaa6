/**
 * Each function's deployed code, bundled (what `ServiceFunction` ships) next to Pulumi's default
 * CallbackFunction packaging of the same serialized callback (every `dependencies` package, the
 * AWS SDK left out, as the runtime provides it): unpacked size, and cold init — a fresh Node
 * process that requires `__index.js` (which runs the factory), median of `runs`, the two
 * alternating in one run.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { runtimeProvidedPackages } from "../components/packaging";
import type { ServiceFunction } from "../components/serviceFunction";
import { materialize, type UnpackedArchive, unpack } from "../tests/support/artifacts";
import { runProgram } from "../tests/support/pulumiMocks";
import { writeResult } from "./results";

export interface ArchiveRow {
  function: string;
  bundledBytes: number;
  defaultBytes: number;
  bundledInitMs: number;
  defaultInitMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * What a cold start runs before the first event: a fresh Node process requires `__index.js`
 * (which runs the factory). A script file, as Lambda's runtime loads the handler: `node -e`
 * would put every built-in module on the global object first.
 */
const LOADER = [
  // Lambda's runtime makes the `awslambda` global before it loads the handler; the events
  // function's streaming handler needs it at load (the tests' stand-in: tests/support/lambdaStreaming.ts).
  "globalThis.awslambda ??= {};",
  "globalThis.awslambda.streamifyResponse ??= (handler) => handler;",
  "globalThis.awslambda.HttpResponseStream ??= { from: (stream) => stream };",
  "const started = performance.now();",
  "require(process.argv[2]);",
  "process.stdout.write(String(performance.now() - started));",
].join("\n");

function coldInitOnce(loader: string, artifact: UnpackedArchive, env: Record<string, string>): number {
  return Number(
    execFileSync(process.execPath, ["--no-warnings", loader, artifact.indexPath], {
      encoding: "utf8",
      env: { ...process.env, AWS_REGION: "eu-west-1", ...env },
      stdio: ["ignore", "pipe", "ignore"],
    }),
  );
}

/**
 * Cold init of two artifacts, alternating one process of each, so both see the same machine
 * (it is shared and noisy): medians of `runs` each.
 */
function coldInitSideBySide(
  a: UnpackedArchive,
  b: UnpackedArchive,
  env: Record<string, string>,
  runs: number,
): [number, number] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-cold-init-"));
  const loader = path.join(dir, "load.js");
  fs.writeFileSync(loader, LOADER);
  const samples: [number[], number[]] = [[], []];
  try {
    for (let i = 0; i < runs; i++) {
      samples[0].push(coldInitOnce(loader, a, env));
      samples[1].push(coldInitOnce(loader, b, env));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return [median(samples[0]), median(samples[1])];
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
    const [bundledInitMs, defaultInitMs] = coldInitSideBySide(bundled, original, env, runs);
    rows.push({
      function: fn.name,
      bundledBytes: bundled.bytes,
      defaultBytes: original.bytes,
      bundledInitMs,
      defaultInitMs,
    });
  }
  return rows;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** `npm run bench -- archives`: the table of `archiveTable` against the targets. */
export async function archives(): Promise<void> {
  const runs = 10;
  console.log(`## Lambda code: bundled (deployed) vs CallbackFunction default packaging; cold init median of ${runs}`);
  const rows = await archiveTable(runs);
  console.log(
    `${"function".padEnd(32)} ${"unpacked".padStart(10)} ${"default".padStart(10)} ${"ratio".padStart(6)}  ${"init ms".padStart(8)} ${"default".padStart(8)} ${"ratio".padStart(6)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.function.padEnd(32)} ${kib(row.bundledBytes).padStart(10)} ${kib(row.defaultBytes).padStart(10)} ${(row.bundledBytes / row.defaultBytes).toFixed(3).padStart(6)}  ` +
        `${row.bundledInitMs.toFixed(1).padStart(8)} ${row.defaultInitMs.toFixed(1).padStart(8)} ${(row.bundledInitMs / row.defaultInitMs).toFixed(2).padStart(6)}`,
    );
  }
  const largest = Math.max(...rows.map((r) => r.bundledBytes));
  const slowest = Math.max(...rows.map((r) => r.bundledInitMs));
  const worstRatio = Math.max(...rows.map((r) => r.bundledInitMs / r.defaultInitMs));
  console.log(
    `targets: largest ${kib(largest)} (≤ 1024 KiB), slowest init ${slowest.toFixed(1)} ms (≤ 100 ms), worst init ratio ${worstRatio.toFixed(2)} (≤ 0.5)`,
  );
  writeResult("archives", { runs, rows, largestBytes: largest, slowestInitMs: slowest, worstInitRatio: worstRatio });
}
