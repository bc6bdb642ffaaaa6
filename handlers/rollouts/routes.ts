import { flagNotFound, serviceError } from "../errors";
import { parseFlagName } from "../flags/validation";
import { parseJsonBody, type RouteHandler } from "../http";
import { itemToRollout } from "./model";
import type { Rollouts } from "./service";
import type { RolloutStore } from "./store";
import { parseStartRollout, rolloutSchemas } from "./validation";

/** `PUT /flags/{flagName}/rollout` (starts one) and `POST /flags/{flagName}/rollout/abort`. */
export function makeRolloutWriteRoutes({ rollouts }: { rollouts: Rollouts }): Record<string, RouteHandler> {
  // Once per factory (per Lambda instance), not per request.
  const schemas = rolloutSchemas();
  return {
    "PUT /flags/{flagName}/rollout": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const input = parseStartRollout(parseJsonBody(request), schemas);
      const item = await rollouts.start(flagName, input, request.actor);
      const location = `${request.basePath}/flags/${encodeURIComponent(flagName)}/rollout`;
      return { status: 201, body: itemToRollout(item), headers: { Location: location } };
    },
    "POST /flags/{flagName}/rollout/abort": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const item = await rollouts.abort(flagName, { actor: request.actor });
      return { status: 200, body: itemToRollout(item) };
    },
  };
}

/** `GET /flags/{flagName}/rollout`: the flag's latest rollout, running or ended. */
export function makeRolloutReadRoutes({ rollouts }: { rollouts: RolloutStore }): Record<string, RouteHandler> {
  return {
    "GET /flags/{flagName}/rollout": async (request) => {
      const flagName = parseFlagName(request.params.flagName);
      const item = await rollouts.get(flagName);
      if (item === undefined) {
        if ((await rollouts.flagItem(flagName)) === undefined) throw flagNotFound(flagName);
        throw serviceError("ROLLOUT_NOT_FOUND", `flag '${flagName}' has no rollout`);
      }
      return { status: 200, body: itemToRollout(item) };
    },
  };
}
