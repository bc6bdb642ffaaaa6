import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deflateRawSync } from "node:zlib";
import type { RecordedResource } from "./pulumiMocks";

const PROJECT_ROOT = path.resolve(__dirname, "../..");

/** A function's code archive written to disk the way Lambda unpacks it into /var/task. */
export interface MaterializedArtifact {
  /** Absolute path of the unpacked `__index.js`. */
  indexPath: string;
  /** Paths inside the archive, e.g. `node_modules/zod`. */
  entries: string[];
  /** Uncompressed bytes of everything in the archive. */
  bytes: number;
  /** Bytes after deflate, file by file: close to the size of the zip Pulumi uploads. */
  deflatedBytes: number;
}

function walkFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walkFiles(full) : entry.isFile() ? [full] : [];
  });
}

/**
 * A directory standing in for the Lambda runtime: it provides `@aws-sdk/*` (linked from this
 * project) and nothing else, so an artifact that needs any other package must carry it.
 */
function runtimeRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "flags-lambda-runtime-"));
  fs.mkdirSync(path.join(root, "node_modules"));
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules", "@aws-sdk"), path.join(root, "node_modules", "@aws-sdk"));
  return root;
}

/** Unpacks a mocked `aws:lambda/function:Function`'s code archive into a fresh directory. */
export async function materialize(fn: RecordedResource): Promise<MaterializedArtifact> {
  const taskDir = path.join(runtimeRoot(), "task");
  fs.mkdirSync(taskDir);
  const assets: Record<string, { text?: Promise<string>; path?: Promise<string> | string }> =
    await fn.inputs.code.assets;
  let bytes = 0;
  let deflatedBytes = 0;
  for (const [entry, asset] of Object.entries(assets)) {
    const target = path.join(taskDir, entry);
    if (asset.text !== undefined) {
      const text = await asset.text;
      fs.writeFileSync(target, text);
    } else if (asset.path !== undefined) {
      fs.cpSync(path.resolve(PROJECT_ROOT, await asset.path), target, { recursive: true, dereference: true });
    }
    for (const file of fs.statSync(target).isDirectory() ? walkFiles(target) : [target]) {
      const content = fs.readFileSync(file);
      bytes += content.length;
      deflatedBytes += deflateRawSync(content).length;
    }
  }
  return { indexPath: path.join(taskDir, "__index.js"), entries: Object.keys(assets), bytes, deflatedBytes };
}

/** Loads an artifact's `handler` as Lambda would: a fresh module, initialised with `env` in place. */
export function loadHandler<E, R>(
  artifact: MaterializedArtifact,
  env: Record<string, string>,
): (event: E) => Promise<R> {
  Object.assign(process.env, env);
  delete require.cache[artifact.indexPath];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file loaded afresh, as Lambda does
  return require(artifact.indexPath).handler;
}
