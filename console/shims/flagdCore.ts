// @openfeature/flagd-core for the browser bundle: the same library, in interpreter mode, so the
// shared flag validation (handlers/flags/definition.ts) never builds rules with `new Function`,
// which the console's Content-Security-Policy (no unsafe-eval) forbids.
import type { FlagdCoreOptions } from "@openfeature/flagd-core";
import { FeatureFlag as FlagdFeatureFlag, MemoryStorage as FlagdMemoryStorage } from "@openfeature/flagd-core";

export * from "@openfeature/flagd-core";

type Logger = ConstructorParameters<typeof FlagdMemoryStorage>[0];

export class MemoryStorage extends FlagdMemoryStorage {
  constructor(logger: Logger, options: FlagdCoreOptions = {}) {
    super(logger, { ...options, disableDynamicCodeGeneration: true });
  }
}

type FlagArguments = ConstructorParameters<typeof FlagdFeatureFlag>;

/** What the shared `compileFlag` builds: the same flag, its rule interpreted rather than compiled. */
export class FeatureFlag extends FlagdFeatureFlag {
  constructor(key: FlagArguments[0], flag: FlagArguments[1], logger: FlagArguments[2], options: FlagdCoreOptions = {}) {
    super(key, flag, logger, { ...options, disableDynamicCodeGeneration: true });
  }
}
