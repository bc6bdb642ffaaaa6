import type { RunningService } from "../../local/service";
import { client } from "./http";
import { ADMIN_TOKEN } from "./tokens";

/** The fields a PUT takes back from a flag as GET returns it (the rest are the service's). */
const WRITABLE = ["value", "description", "state", "variants", "defaultVariant", "targeting", "metadata"] as const;

/**
 * Makes a flag client-side (or not) through the REST API, as a user would: a PUT of the flag as it
 * is, with `clientSide` set. Throws unless the service took it.
 */
export async function setClientSide(service: RunningService, flagName: string, clientSide = true): Promise<void> {
  const api = client(service.url, ADMIN_TOKEN);
  const current = await api("GET", `/flags/${flagName}`);
  if (current.status !== 200) throw new Error(`GET /flags/${flagName}: ${current.status}`);
  const body: Record<string, unknown> = { clientSide };
  for (const field of WRITABLE) if (current.body[field] !== undefined) body[field] = current.body[field];
  const updated = await api("PUT", `/flags/${flagName}`, {
    body,
    headers: { "If-Match": String(current.body.version) },
  });
  if (updated.status !== 200 || updated.body.clientSide !== clientSide) {
    throw new Error(
      `PUT /flags/${flagName} clientSide=${clientSide}: ${updated.status} ${JSON.stringify(updated.body)}`,
    );
  }
}
