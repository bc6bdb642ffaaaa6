import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { recordInvocation } from "./awsCalls";
import { assertCallsAllowed, type PolicyStatement, roleNamed, roleStatements } from "./iam";
import { installAwsLambdaGlobal } from "./lambdaStreaming";
import { programOf, type RecordedResource } from "./pulumiMocks";

const PROJECT_ROOT = path.resolve(__dirname, "../..");

/** A function's code archive written to disk the way Lambda unpacks it into /var/task. */
export interface MaterializedArtifact extends UnpackedArchive {
  /** The function's name in the program. */
  functionName: string;
  /** The environment the program gives the function. */
  programEnv: Record<string, string>;
  /** The function's role, and the statements of its inline policies, from the program. */
  roleArn: string;
  roleStatements: PolicyStatement[];
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

/** A code archive written out where Lambda would unpack it, with its sizes. */
export interface UnpackedArchive {
  /** Absolute path of the unpacked `__index.js`. */
  indexPath: string;
  /** Paths inside the archive, e.g. `__index.js` or `node_modules/zod`. */
  entries: string[];
  /** Uncompressed bytes of everything in the archive. */
  bytes: number;
  /** Bytes after deflate, file by file: close to the size of the zip Pulumi uploads. */
  deflatedBytes: number;
}

/** Writes an archive's assets into a fresh directory beside a stand-in runtime (only `@aws-sdk`). */
export async function unpack(
  assets: Record<string, { text?: Promise<string>; path?: Promise<string> | string }>,
): Promise<UnpackedArchive> {
  const taskDir = path.join(runtimeRoot(), "task");
  fs.mkdirSync(taskDir);
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

/** Archives unpacked so far in this test process, by their content. */
const unpacked = new Map<string, Promise<UnpackedArchive>>();

/**
 * `unpack` once per archive content: suites share one directory per function's code (a loaded
 * handler is a fresh module either way, see `loadHandler`). Nothing writes into it afterwards.
 */
async function unpackShared(
  assets: Record<string, { text?: Promise<string>; path?: Promise<string> | string }>,
): Promise<UnpackedArchive> {
  const hash = createHash("sha256");
  for (const [entry, asset] of Object.entries(assets)) {
    const content = asset.text !== undefined ? `text:${await asset.text}` : `path:${await asset.path}`;
    hash.update(`${entry}\0${content.length}\0${content}`);
  }
  const key = hash.digest("hex");
  let archive = unpacked.get(key);
  if (archive === undefined) {
    archive = unpack(assets);
    unpacked.set(key, archive);
    archive.catch(() => unpacked.delete(key));
  }
  const { entries, ...rest } = await archive;
  return { ...rest, entries: [...entries] };
}

/** Unpacks a mocked `aws:lambda/function:Function`'s code archive, with its role from the program. */
export async function materialize(fn: RecordedResource): Promise<MaterializedArtifact> {
  const archive = await unpackShared(await fn.inputs.code.assets);
  const program = programOf(fn);
  const role = roleNamed(program, fn.inputs.role);
  return {
    ...archive,
    functionName: fn.name,
    programEnv: fn.inputs.environment?.variables ?? {},
    roleArn: fn.inputs.role,
    roleStatements: roleStatements(program, role),
  };
}

/**
 * The X-Ray SDK a bundle carries (aws-xray-sdk-core, through the Powertools Tracer) in manual mode.
 * In automatic mode each load of a bundle creates and enables its own cls-hooked async hook, never
 * disabled: one per load, all of them run on every promise for the rest of the test process (60
 * loads made a promise-heavy test 2.7 times slower). Outside Lambda (no AWS_EXECUTION_ENV) the
 * Tracer is off and never reads the SDK's context, so the mode changes nothing a test observes.
 */
const XRAY_OFF_LAMBDA = { AWS_XRAY_MANUAL_MODE: "true" };

/**
 * Loads an artifact's `handler` as Lambda would: a fresh module, initialised with `env` in place.
 * Every AWS request an invocation sends is recorded and simulated against the function's role
 * policy from the program (tests/support/iam.ts): a request IAM would deny on AWS fails the
 * invocation, naming the function, the action and the resource.
 */
export function loadHandler<E, R>(
  artifact: MaterializedArtifact,
  env: Record<string, string>,
): (event: E, ...streaming: unknown[]) => Promise<R> {
  Object.assign(process.env, XRAY_OFF_LAMBDA, env);
  // What Lambda's Node.js runtime gives every function: the response-streaming global.
  installAwsLambdaGlobal();
  delete require.cache[artifact.indexPath];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file loaded afresh, as Lambda does
  const handler: (event: E, ...streaming: unknown[]) => Promise<R> = require(artifact.indexPath).handler;
  // What stands in for the program's values here (local tables, endpoints), to map calls back.
  const substitutions: Array<[string, string]> = Object.entries(artifact.programEnv).flatMap(([key, value]) => {
    const local = process.env[key];
    return local === undefined || local === "" || local === value ? [] : [[local, value] as [string, string]];
  });
  // A streaming handler (awslambda.streamifyResponse) is called with the response stream too.
  return async (event: E, ...streaming: unknown[]) => {
    const { calls, result: outcome } = await recordInvocation(
      artifact.functionName,
      substitutions,
      async (): Promise<{ value: R } | { error: unknown }> => {
        try {
          return { value: await handler(event, ...streaming) };
        } catch (error) {
          return { error };
        }
      },
    );
    await assertCallsAllowed(artifact.functionName, artifact.roleArn, artifact.roleStatements, calls);
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  };
}

/**
 * Fails when a bundle holds code of a deployment-time or test-only package, named by `packages`
 * (regular-expression sources). A bundle may inline a package manifest (aws-xray-sdk-core reads
 * its own package.json for its version), whose `scripts` name tools such as `mocha --recursive`:
 * a name followed by a command-line option is a manifest's script, not code.
 */
export function assertNoForeignCode(code: string, packages: readonly string[]): void {
  const pattern = new RegExp(`(${packages.join("|")})(?! --)`);
  const found = pattern.exec(code);
  if (found !== null) {
    const at = found.index;
    throw new Error(`the bundle holds '${found[1]}': …${code.slice(Math.max(0, at - 80), at + 80)}…`);
  }
}
