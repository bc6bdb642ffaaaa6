import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type Plugin, build } from "esbuild";

/** The Node.js version of the Lambda runtime the functions run on (`nodejs24.x`). */
export const LAMBDA_NODE_TARGET = "node24";

/** What Lambda runs: `__index.js`, exporting `handler`. */
export const HANDLER_FILE = "__index.js";
export const HANDLER = "__index.handler";

/**
 * Packages the Lambda Node.js runtime already provides: every installed `@aws-sdk/*`. Kept out of
 * the bundle, so a function loads the runtime's copy (patched by AWS) instead of carrying its own.
 */
export function runtimeProvidedPackages(projectRoot: string = process.cwd()): string[] {
  const scopeDir = path.join(projectRoot, "node_modules", "@aws-sdk");
  if (!fs.existsSync(scopeDir)) return [];
  return fs.readdirSync(scopeDir).map((name) => `@aws-sdk/${name}`);
}

/**
 * Serializes a callback factory exactly as `aws.lambda.CallbackFunction` does, then bundles the
 * result with esbuild: only the code the handler reaches, minified, one file. Pulumi's default
 * packaging instead copies every package of `dependencies` whole into every function (7+ MiB of
 * zod, Powertools and their trees), which each cold start has to unpack and resolve through.
 *
 * The serialized text is what would run either way; bundling only inlines the `require`s of
 * installed packages (the AWS SDK stays external: the runtime provides it).
 */
export async function bundleCallbackFactory(
  factory: () => unknown,
  projectRoot: string = process.cwd(),
): Promise<string> {
  const serialized = await pulumi.runtime.serializeFunction(factory, {
    exportName: "handler",
    isFactoryFunction: true,
    // A captured secret would be written in plain text into the code: refuse instead.
    allowSecrets: false,
  });
  return bundleSerializedText(serialized.text, projectRoot);
}

/**
 * Keeps `@aws-sdk/*` out of the bundle and requires it by package name: Pulumi's serializer
 * writes the resolved file (`@aws-sdk/client-dynamodb/dist-cjs/index.js`), a path inside the
 * package that the runtime's own copy need not have at the same place.
 */
const runtimeSdkExternal: Plugin = {
  name: "runtime-sdk-external",
  setup(plugin) {
    plugin.onResolve({ filter: /^@aws-sdk\// }, (args) => ({
      path: args.path.split("/").slice(0, 2).join("/"),
      external: true,
    }));
  },
};

/** Bundles a serialized `__index.js` text against the packages installed in `projectRoot`. */
export async function bundleSerializedText(text: string, projectRoot: string = process.cwd()): Promise<string> {
  const result = await build({
    stdin: { contents: text, resolveDir: projectRoot, sourcefile: HANDLER_FILE, loader: "js" },
    bundle: true,
    platform: "node",
    target: LAMBDA_NODE_TARGET,
    format: "cjs",
    minify: true,
    legalComments: "none",
    plugins: [runtimeSdkExternal],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/** The archive Lambda unpacks into /var/task: the one bundled file. */
export async function bundledArchive(factory: () => unknown): Promise<pulumi.asset.AssetArchive> {
  const text = await bundleCallbackFactory(factory);
  return new pulumi.asset.AssetArchive({ [HANDLER_FILE]: new pulumi.asset.StringAsset(text) });
}
