import {
  type AnyProviderEvent,
  DefaultLogger,
  ErrorCode,
  type EvaluationContext,
  type FlagValue,
  type FlagValueType,
  type JsonValue,
  type Logger,
  ProviderFatalError,
  type ResolutionDetails,
} from "@openfeature/core";
import { ProviderEvents } from "./events";
import { FlagSet } from "./flagSet";
import { AuthenticationRefused, FlagSync, type SyncOptions, type WebSocketConstructor } from "./sync";

/** `new FeatureFlagsProvider(options)` / `new FeatureFlagsWebProvider(options)`. */
export interface FeatureFlagsProviderOptions extends SyncOptions {
  /**
   * The WebSocket class. Default: `ws` for the server provider, the global `WebSocket` for the web
   * provider (pass `ws` to run the web provider on Node 20, which has no global one).
   */
  WebSocket?: WebSocketConstructor;
  /** Where the provider logs connection trouble. Default: OpenFeature's console logger. */
  logger?: Logger;
}

/** The event names both SDKs share (string values of Server/ClientProviderEvents). */
const EVENTS = {
  ready: "PROVIDER_READY",
  stale: "PROVIDER_STALE",
  error: "PROVIDER_ERROR",
  changed: "PROVIDER_CONFIGURATION_CHANGED",
} as const;

/** What the server and web providers share: the flags in memory, the sync, the events. */
export abstract class FeatureFlagsProviderBase<E extends AnyProviderEvent> {
  readonly metadata = { name: "feature-flags" } as const;
  readonly events = new ProviderEvents<E>();
  protected readonly flags: FlagSet;
  protected readonly sync: FlagSync;
  protected readonly logger: Logger;

  protected constructor(options: FeatureFlagsProviderOptions, WebSocketImpl: WebSocketConstructor) {
    if (typeof options?.url !== "string" || typeof options.token !== "string") {
      throw new TypeError("new FeatureFlagsProvider({ url, token }) needs the WebSocket url and a read token");
    }
    this.logger = options.logger ?? new DefaultLogger();
    this.flags = new FlagSet(this.logger);
    const emit = (event: (typeof EVENTS)[keyof typeof EVENTS], context?: Record<string, unknown>) =>
      this.events.emit(event as E, context as never);
    this.sync = new FlagSync(
      this.flags,
      WebSocketImpl,
      options,
      {
        ready: () => {
          emit(EVENTS.ready);
          this.onFlagsChanged();
        },
        stale: (message) => emit(EVENTS.stale, { message }),
        error: (message, fatal) =>
          emit(EVENTS.error, fatal ? { message, errorCode: ErrorCode.PROVIDER_FATAL } : { message }),
        changed: (flagsChanged) => {
          emit(EVENTS.changed, { flagsChanged });
          this.onFlagsChanged();
        },
      },
      this.logger,
      () => this.fallback(),
    );
  }

  /** Resolves once the first complete snapshot is held; a refused token is FATAL. */
  async initialize(): Promise<void> {
    try {
      await this.sync.start();
    } catch (error) {
      if (error instanceof AuthenticationRefused) throw new ProviderFatalError(error.message);
      throw error;
    }
    this.onFlagsChanged();
  }

  async onClose(): Promise<void> {
    this.sync.close();
  }

  /** Hook for the server provider's cache file. */
  protected onFlagsChanged(): void {}

  /** Hook for the server provider's cache file: loads flags to serve when the service is unreachable. */
  protected fallback(): boolean {
    return false;
  }

  protected resolve<T extends FlagValue>(
    type: FlagValueType,
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext = {},
  ): ResolutionDetails<T> {
    return this.flags.resolve(type, flagKey, defaultValue, context);
  }
}

export type { JsonValue };
