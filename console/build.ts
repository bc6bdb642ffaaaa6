import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { build, type Plugin } from "esbuild";

/** Where `npm ci`, `npm start` and `pulumi up` build the console; ignored by git. */
export const CONSOLE_DIST = path.join(__dirname, "dist");

/** The files of a built console, relative to its folder (`index.html`, `assets/app-<hash>.js`, …). */
export interface ConsoleBuild {
  dir: string;
  files: string[];
  /** `assets/app-<hash>.js` */
  script: string;
  /** `assets/app-<hash>.css` */
  style: string;
}

const FLAGD_SHIM = path.join(__dirname, "shims", "flagdCore.ts");

/** Every import of flagd-core but the shim's own resolves to the interpreter-mode shim. */
const flagdInterpreter: Plugin = {
  name: "flagd-interpreter",
  setup(build) {
    build.onResolve({ filter: /^@openfeature\/flagd-core$/ }, (args) =>
      args.importer === FLAGD_SHIM ? undefined : { path: FLAGD_SHIM },
    );
  },
};

const indexHtml = (script: string, style: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Feature flags</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${style}" />
    <script type="module" src="${script}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>The feature-flag console needs JavaScript.</noscript>
  </body>
</html>
`;

/**
 * Bundles the console (Preact, the project's own flag validation) into `outDir`: content-hashed
 * assets under `assets/`, and an `index.html` that loads them with no inline script or style, so
 * the Content-Security-Policy needs neither `unsafe-inline` nor `unsafe-eval`.
 */
export function buildConsole(outDir: string = CONSOLE_DIST): Promise<ConsoleBuild> {
  // The program builds the console each time it runs, and tests run it many times in one
  // process: one build per folder and process, so a second run never empties a folder the
  // first one's resources are still reading.
  const key = path.resolve(outDir);
  let pending = builds.get(key);
  if (pending === undefined) {
    pending = buildInto(key);
    builds.set(key, pending);
    pending.catch(() => builds.delete(key));
  }
  return pending;
}

const builds = new Map<string, Promise<ConsoleBuild>>();

/**
 * Builds into a fresh folder beside `outDir`, then swaps it in, so another process (an
 * `npm start` building at the same time) never sees a half-written console.
 */
async function buildInto(outDir: string): Promise<ConsoleBuild> {
  const staging = `${outDir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const built = await bundleConsole(staging);
    const old = `${outDir}.old-${process.pid}`;
    try {
      renameSync(outDir, old);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error;
    }
    try {
      renameSync(staging, outDir);
    } catch (error) {
      // Another process (two `npm start` side by side) put its build in first: the same
      // sources, so the same content-hashed files.
      if (errorCode(error) !== "ENOTEMPTY" && errorCode(error) !== "EEXIST") throw error;
    }
    rmSync(old, { recursive: true, force: true });
    return { ...built, dir: outDir };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const errorCode = (error: unknown): unknown => (error as NodeJS.ErrnoException).code;

async function bundleConsole(outDir: string): Promise<ConsoleBuild> {
  const result = await build({
    entryPoints: { app: path.join(__dirname, "src", "main.tsx") },
    bundle: true,
    minify: true,
    sourcemap: false,
    format: "esm",
    target: ["es2022"],
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: path.join(outDir, "assets"),
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
    // The shared validation (handlers/flags) uses two Node APIs; the browser gets equivalents.
    alias: { "node:util": path.join(__dirname, "shims", "util.ts") },
    inject: [path.join(__dirname, "shims", "buffer.ts")],
    plugins: [flagdInterpreter],
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) =>
    path.relative(outDir, path.resolve(file)).split(path.sep).join("/"),
  );
  const script = outputs.find((file) => file.endsWith(".js"));
  const style = outputs.find((file) => file.endsWith(".css"));
  if (script === undefined || style === undefined) throw new Error(`console build made no script or style: ${outputs}`);
  writeFileSync(path.join(outDir, "index.html"), indexHtml(script, style));
  return { dir: outDir, files: ["index.html", ...outputs], script, style };
}

if (require.main === module) {
  const started = Date.now();
  buildConsole(process.argv[2] ?? CONSOLE_DIST).then(
    (built) => {
      const where = path.relative(process.cwd(), built.dir);
      console.log(`console built into ${where} in ${Date.now() - started} ms: ${built.files.join(", ")}`);
    },
    (error: Error) => {
      console.error(`console build failed: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
