import { mkdirSync, rmSync, writeFileSync } from "node:fs";
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
export async function buildConsole(outDir: string = CONSOLE_DIST): Promise<ConsoleBuild> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
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
