import type { ClientProviderEvents, EvaluationContext, JsonValue, ResolutionDetails } from "@openfeature/core";
import { FeatureFlagsProviderBase, type FeatureFlagsProviderOptions } from "./base";
import type { WebSocketConstructor } from "./sync";

/**
 * OpenFeature provider for `@openfeature/web-sdk`: every flag in memory, kept current over the
 * service's WebSocket, evaluated locally (synchronously) by flagd-core with the context given.
 *
 * @example
 * await OpenFeature.setProviderAndWait(new FeatureFlagsWebProvider({ url, token }));
 */
export class FeatureFlagsWebProvider extends FeatureFlagsProviderBase<ClientProviderEvents> {
  readonly runsOn = "client" as const;

  constructor(options: FeatureFlagsProviderOptions) {
    const WebSocketImpl =
      options?.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? missingWebSocket();
    super(options, WebSocketImpl);
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context?: EvaluationContext) {
    return this.resolve("boolean", flagKey, defaultValue, context);
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context?: EvaluationContext) {
    return this.resolve("string", flagKey, defaultValue, context);
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context?: EvaluationContext) {
    return this.resolve("number", flagKey, defaultValue, context);
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context?: EvaluationContext,
  ): ResolutionDetails<T> {
    return this.resolve("object", flagKey, defaultValue, context);
  }
}

function missingWebSocket(): never {
  throw new TypeError(
    "this platform has no global WebSocket (Node before 22): pass one, e.g. new FeatureFlagsWebProvider({ url, token, WebSocket: require('ws') })",
  );
}
