import type { RouteHandler } from "../http";

export interface SettingsRouteDeps {
  /** Whether deletion is switched on (the `allow-flag-deletion` parameter); may be cached. */
  isDeletionAllowed: () => Promise<boolean>;
}

/**
 * `GET /settings`: what a client (the console) needs to know of the service's configuration, read
 * exactly as DELETE reads it, so the console disables Delete exactly when DELETE would refuse.
 */
export function makeSettingsRoutes({ isDeletionAllowed }: SettingsRouteDeps): Record<string, RouteHandler> {
  return {
    "GET /settings": async () => ({ status: 200, body: { allowFlagDeletion: await isDeletionAllowed() } }),
  };
}
