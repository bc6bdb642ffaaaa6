import * as fs from "fs";
import type {
  EvaluationContext,
  JsonValue,
  ResolutionDetails,
  ServerProviderEvents,
  ServerProviderStatus,
} from "@openfeature/core";
import NodeWebSocket from "ws";
import { FeatureFlagsProviderBase, type FeatureFlagsProviderOptions } from "./base";
import type { Evaluators, Flag } from "./protocol";
import type { WebSocketConstructor } from "./sync";

export interface FeatureFlagsServerOptions extends FeatureFlagsProviderOptions {
  /**
   * Keep the last-known flags in this file and serve them at start when the service cannot be
   * reached (then STALE, and ERROR after `graceMs`, until it can). Written after every change.
   */
  cacheFile?: string;
}

/**
 * OpenFeature provider for `@openfeature/server-sdk`: every flag in memory, kept current over the
 * service's WebSocket, evaluated locally by flagd-core.
 *
 * @example
 * await OpenFeature.setProviderAndWait(new FeatureFlagsProvider({ url, token }));
 */
export class FeatureFlagsProvider extends FeatureFlagsProviderBase<ServerProviderEvents> {
  readonly runsOn = "server" as const;
  /** Set by the SDK; declared for its type. */
  declare readonly status?: ServerProviderStatus;
  private readonly cacheFile: string | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(options: FeatureFlagsServerOptions) {
    super(options, options.WebSocket ?? (NodeWebSocket as unknown as WebSocketConstructor));
    this.cacheFile = options.cacheFile;
  }

  override async onClose(): Promise<void> {
    await super.onClose();
    await this.writing;
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context?: EvaluationContext) {
    return Promise.resolve(this.resolve("boolean", flagKey, defaultValue, context));
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context?: EvaluationContext) {
    return Promise.resolve(this.resolve("string", flagKey, defaultValue, context));
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context?: EvaluationContext) {
    return Promise.resolve(this.resolve("number", flagKey, defaultValue, context));
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context?: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolve("object", flagKey, defaultValue, context));
  }

  protected override onFlagsChanged(): void {
    if (this.cacheFile === undefined || !this.flags.held) return;
    if (this.writing !== undefined) {
      this.dirty = true;
      return;
    }
    const file = this.cacheFile;
    const write = async () => {
      do {
        this.dirty = false;
        // Write and rename, so a crash mid-write never leaves a torn file to start from.
        const temporary = `${file}.${process.pid}.tmp`;
        await fs.promises.writeFile(
          temporary,
          JSON.stringify({ savedAt: new Date().toISOString(), ...this.flags.toJSON() }),
        );
        await fs.promises.rename(temporary, file);
      } while (this.dirty);
    };
    this.writing = write()
      .catch((error: unknown) => this.logger.warn(`could not write the cache file ${file}: ${String(error)}`))
      .finally(() => {
        this.writing = undefined;
      });
  }

  protected override fallback(): boolean {
    if (this.cacheFile === undefined) return false;
    try {
      const cached = JSON.parse(fs.readFileSync(this.cacheFile, "utf8")) as { flags?: unknown; evaluators?: unknown };
      if (!Array.isArray(cached.flags) || typeof cached.evaluators !== "object" || cached.evaluators === null) {
        throw new Error("not a flag cache");
      }
      this.flags.replace(cached.flags as Flag[], cached.evaluators as Evaluators);
      this.logger.warn(`the flag service is unreachable: serving the flags cached in ${this.cacheFile}`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") {
        this.logger.warn(`ignoring the cache file ${this.cacheFile}: ${String(error)}`);
      }
      return false;
    }
  }
}
