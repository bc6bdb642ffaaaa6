/**
 * Caches for what every run of the program under mocks (`runProgram`) repeats in one test process,
 * each keyed by everything its result depends on, so a run's output is the same with or without
 * them:
 *
 * - ts-node's transpilation of the modules `runProgram` loads afresh each run (`index.ts`,
 *   `components/`): by file name and source text;
 * - Pulumi's parse of a function's text while serializing a Lambda callback (a TypeScript parse
 *   per function, thousands per run): by the text, as `parseFunction` is a function of it alone.
 *
 * What Pulumi reads from the running process (captured values, module names) is not cached.
 */

interface TsNodeService {
  compile(code: string, fileName: string, lineOffset?: number): string;
}

/** Transpiles the modules whose path starts with one of `dirs` once per source text. */
export function cacheTranspilation(dirs: readonly string[]): void {
  const service = (process as unknown as Record<symbol, TsNodeService | undefined>)[
    Symbol.for("ts-node.register.instance")
  ];
  if (service === undefined || (service as { __programCache?: true }).__programCache) return;
  const compile = service.compile.bind(service);
  const outputs = new Map<string, { code: string; output: string }>();
  service.compile = (code, fileName, lineOffset) => {
    if (lineOffset !== undefined || !dirs.some((dir) => fileName.startsWith(dir))) {
      return compile(code, fileName, lineOffset);
    }
    const cached = outputs.get(fileName);
    if (cached !== undefined && cached.code === code) return cached.output;
    const output = compile(code, fileName);
    outputs.set(fileName, { code, output });
    return output;
  };
  (service as { __programCache?: true }).__programCache = true;
}

type ParseFunction = (functionString: string) => [string, unknown];

/** Memoizes Pulumi's closure serializer's `parseFunction` (a pure function of the text). */
export function cacheFunctionParsing(): void {
  type Module = { parseFunction: ParseFunction & { cached?: true } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Pulumi's internal module, patched in place
  const module: Module = require("@pulumi/pulumi/runtime/closure/parseFunction");
  if (module.parseFunction.cached) return;
  const parse = module.parseFunction;
  const parsed = new Map<string, [string, unknown]>();
  const cached: ParseFunction & { cached?: true } = (functionString) => {
    let result = parsed.get(functionString);
    if (result === undefined) {
      result = parse(functionString);
      parsed.set(functionString, result);
    }
    return result;
  };
  cached.cached = true;
  module.parseFunction = cached;
}
