import { copyFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { build, type BuildOptions, context } from "esbuild";

/** Where the example is built by default; ignored by git (`dist/`). */
export const EXAMPLE_DIST = path.join(__dirname, "dist");

/** Files copied as they are next to the bundle. */
const STATIC_FILES = ["index.html", "style.css"];

const bundleOptions = (outDir: string): BuildOptions => ({
  entryPoints: [path.join(__dirname, "main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  outfile: path.join(outDir, "main.js"),
  logLevel: "warning",
  legalComments: "none",
});

/**
 * Bundles the example page (`main.ts` with `@openfeature/web-sdk` and `@openfeature/ofrep-web-provider`)
 * into `outDir`: `index.html`, `style.css` and `main.js`, no inline script or style, so it runs under a
 * Content-Security-Policy without `unsafe-inline` or `unsafe-eval`.
 */
export async function buildBrowserExample(outDir: string = EXAMPLE_DIST): Promise<{ dir: string; files: string[] }> {
  mkdirSync(outDir, { recursive: true });
  await build(bundleOptions(outDir));
  for (const file of STATIC_FILES) copyFileSync(path.join(__dirname, file), path.join(outDir, file));
  return { dir: outDir, files: [...STATIC_FILES, "main.js"] };
}

/**
 * `ts-node --transpile-only examples/browser/build.ts [--serve <port>]`: builds into `dist/`, and with
 * `--serve` also serves it on http://localhost:<port> (add that origin to the service's `corsOrigins`).
 */
async function cli(args: string[]): Promise<void> {
  const built = await buildBrowserExample();
  console.log(`example built into ${path.relative(process.cwd(), built.dir)}: ${built.files.join(", ")}`);
  const serveAt = args.indexOf("--serve");
  if (serveAt < 0) return;
  const port = Number(args[serveAt + 1] ?? 8080);
  const served = await context(bundleOptions(EXAMPLE_DIST));
  await served.serve({ servedir: EXAMPLE_DIST, host: "localhost", port });
  console.log(
    `serving on http://localhost:${port}/?url=http://127.0.0.1:3000&key=<client key> ` +
      `(start the service with CORS_ORIGINS=http://localhost:${port}); Ctrl-C stops`,
  );
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((error: Error) => {
    console.error(`example build failed: ${error.message}`);
    process.exitCode = 1;
  });
}
