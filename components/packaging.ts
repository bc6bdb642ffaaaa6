import * as fs from "node:fs";
import { isBuiltin } from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type Plugin, build } from "esbuild";

/** The Node.js version of the Lambda runtime the functions run on (`nodejs24.x`). */
export const LAMBDA_NODE_TARGET = "node24";

/** What Lambda runs: `__index.js`, exporting `handler`. */
export const HANDLER_FILE = "__index.js";
export const HANDLER = "__index.handler";

/**
 * Packages the Lambda Node.js runtime already provides: every installed `@aws-sdk/*`. The bundle
 * carries the parts of the SDK it uses instead (see `bundleSerializedText`); this list is what
 * Pulumi's default CallbackFunction packaging leaves out, for comparing with it.
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
 * installed packages.
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

/** Where a narrowed `require` points: `pick:<package>?<name>,<name>` (see `narrowRequires`). */
const PICK = "pick:";

/** `@scope/name/dist-cjs/index.js` → `@scope/name` when that file is the package's own entry. */
function packageEntry(specifier: string, projectRoot: string): string {
  const parts = specifier.split("/");
  const name = parts.slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
  if (name === specifier) return specifier;
  try {
    const paths = [projectRoot];
    return require.resolve(specifier, { paths }) === require.resolve(name, { paths }) ? name : specifier;
  } catch {
    return specifier;
  }
}

/**
 * Pulumi's serializer writes each package a callback uses as `const x_1 = require("pkg")` and
 * reads it as `x_1.Name` (or `x_1\n  .Name`). A `require` of a whole package makes esbuild keep
 * all of it (every DynamoDB command and its schema, every zod locale), and running that module
 * code is most of a cold start. Where a package is only ever read by name, its `require` is
 * pointed at `pick:<package>?<names>`: just those names (see `bundleSerializedText`). A package
 * used any other way (passed whole, spread, indexed) keeps its plain `require`.
 */
export function narrowRequires(text: string, projectRoot: string = process.cwd()): string {
  return text.replace(
    /^const ([A-Za-z_$][\w$]*) = require\("([^".][^"]*)"\);$/gm,
    (line, ident: string, specifier: string) => {
      if (isBuiltin(specifier)) return line;
      const uses = text.matchAll(
        new RegExp(
          `(?<![\\w$])(?<![^.]\\.)${ident.replace(/\$/g, "\\$")}(?![\\w$])(\\s*\\.\\s*([A-Za-z_$][\\w$]*))?`,
          "g",
        ),
      );
      const names = new Set<string>();
      let bare = 0;
      for (const use of uses) {
        if (use[2] !== undefined) names.add(use[2]);
        // The declaration itself is the one bare use allowed.
        else if (++bare > 1) return line;
      }
      if (names.size === 0) return line;
      const pick = `${PICK}${packageEntry(specifier, projectRoot)}?${[...names].sort().join(",")}`;
      return `const ${ident} = require(${JSON.stringify(pick)});`;
    },
  );
}

/**
 * The bundle's modules around the serialized code. esbuild tree-shakes an ES module only when
 * it is imported, never when it is `require`d (then it keeps the module and all it imports,
 * whole), so the picked names are imported by an ES module entry, which hands them to the
 * serialized CommonJS code through a plain object before that code runs:
 *
 *   entry (ESM):   import "flags:picks"; export { handler } from "flags:serialized";
 *   flags:picks:   import { A as p0 } from "pkg"; picked["pkg?A"] = { A: p0 };
 *   pick:pkg?A:    module.exports = picked["pkg?A"];   (what the serialized code requires)
 */
function bundleModules(serialized: string, projectRoot: string): Plugin {
  const picks = [...serialized.matchAll(/require\("pick:([^"?]+)\?([^"]+)"\)/g)].map((m) => ({
    key: `${m[1]}?${m[2]}`,
    specifier: m[1],
    names: m[2].split(","),
  }));
  const imports = picks.map(
    ({ specifier, names }, i) =>
      `import { ${names.map((name, j) => `${name} as p${i}_${j}`).join(", ")} } from ${JSON.stringify(specifier)};`,
  );
  const assignments = picks.map(
    ({ key, names }, i) =>
      `picked[${JSON.stringify(key)}] = { ${names.map((name, j) => `${name}: p${i}_${j}`).join(", ")} };`,
  );
  const modules: Record<string, string> = {
    picks: [...imports, `import picked from "flags:picked";`, ...assignments].join("\n"),
    picked: "module.exports = {};",
    serialized,
  };
  return {
    name: "flags-bundle-modules",
    setup(plugin) {
      plugin.onResolve({ filter: /^flags:/ }, (args) => ({ path: args.path.slice(6), namespace: "flags" }));
      plugin.onResolve({ filter: /^pick:/ }, (args) => ({ path: args.path.slice(PICK.length), namespace: "pick" }));
      plugin.onLoad({ filter: /.*/, namespace: "flags" }, (args) => ({
        contents: modules[args.path],
        resolveDir: projectRoot,
        loader: "js",
      }));
      plugin.onLoad({ filter: /.*/, namespace: "pick" }, (args) => ({
        contents: `module.exports = require("flags:picked")[${JSON.stringify(args.path)}];`,
        resolveDir: projectRoot,
        loader: "js",
      }));
    },
  };
}

/**
 * Bundles a serialized `__index.js` text against the packages installed in `projectRoot`, AWS
 * SDK included: the SDK parts a function uses, tree-shaken from their ES module builds, load
 * several times faster than the runtime's whole packages (bench/archives.ts measures both).
 */
export function bundleSerializedText(text: string, projectRoot: string = process.cwd()): Promise<string> {
  // One program bundles a callback once; tests and the bench load the program (and reload this
  // module) many times in one process, so the bundles are kept on the process, by input.
  const cache = ((globalThis as Record<symbol, unknown>)[BUNDLES] ??= new Map()) as Map<string, Promise<string>>;
  const key = `${projectRoot}\0${text}`;
  let bundled = cache.get(key);
  if (bundled === undefined) {
    bundled = bundle(text, projectRoot);
    // A failed build is not kept: the next program load tries again.
    bundled.catch(() => cache.delete(key));
    cache.set(key, bundled);
  }
  return bundled;
}

const BUNDLES = Symbol.for("feature-flags.packaging.bundles");

async function bundle(text: string, projectRoot: string): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import "flags:picks";\nexport { handler } from "flags:serialized";\n`,
      resolveDir: projectRoot,
      sourcefile: HANDLER_FILE,
      loader: "js",
    },
    bundle: true,
    platform: "node",
    target: LAMBDA_NODE_TARGET,
    format: "cjs",
    // ES module builds first: what lets esbuild drop the exports a function never reaches.
    mainFields: ["module", "main"],
    minify: true,
    legalComments: "none",
    plugins: [bundleModules(narrowRequires(text, projectRoot), projectRoot), lambdaCredentials(projectRoot)],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/**
 * Lambda hands every function its role's credentials in environment variables, so the SDK
 * clients' default credential chain resolves there at its first step. The rest of the chain
 * (SSO, INI files, processes, web identity, container and instance metadata, with the STS and SSO
 * clients they carry: ~100 KB, a quarter of a small function's bundle) never runs on Lambda but is
 * compiled and loaded on every cold start. In the bundle the chain is the SDK's own `fromEnv`.
 */
function lambdaCredentials(projectRoot: string): Plugin {
  return {
    name: "flags-lambda-credentials",
    setup(plugin) {
      plugin.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
        path: "credential-provider-node",
        namespace: "lambda-credentials",
      }));
      plugin.onLoad({ filter: /.*/, namespace: "lambda-credentials" }, () => ({
        contents: [
          'import { fromEnv } from "@aws-sdk/credential-provider-env";',
          "export const defaultProvider = (init = {}) => fromEnv(init);",
        ].join("\n"),
        resolveDir: projectRoot,
        loader: "js",
      }));
    },
  };
}

/** The archive Lambda unpacks into /var/task: the one bundled file. */
export async function bundledArchive(factory: () => unknown): Promise<pulumi.asset.AssetArchive> {
  const text = await bundleCallbackFactory(factory);
  return new pulumi.asset.AssetArchive({ [HANDLER_FILE]: new pulumi.asset.StringAsset(text) });
}
