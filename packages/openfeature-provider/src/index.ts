export { FeatureFlagsProvider, type FeatureFlagsServerOptions } from "./server";
export { FeatureFlagsWebProvider } from "./web";
export type { FeatureFlagsProviderOptions } from "./base";
export type { WebSocketConstructor, WebSocketLike } from "./sync";
export type { BackoffOptions } from "./backoff";
export type { Flag, Evaluators } from "./protocol";
