/**
 * A web page that evaluates feature flags with nothing but the official OpenFeature packages:
 * `@openfeature/web-sdk` and `@openfeature/ofrep-web-provider`, unmodified, against this service's
 * OFREP endpoints with a client key.
 *
 * Its settings come from its own URL (a real application builds them in):
 *   ?url=<the service's apiUrl>&key=<a client key>[&user=<targeting key>][&flag=<name>:<JSON default>...]
 *
 * The client key is public by design: anyone who opens the page can read it. It can only evaluate
 * the flags marked `clientSide: true` (and receive their change notifications); every other flag
 * does not exist for it, and every other route refuses it. Never put a `read` or `write` token in a
 * page.
 */
import { OFREPWebProvider } from "@openfeature/ofrep-web-provider";
import {
  type Client,
  type EvaluationDetails,
  type FlagValue,
  type JsonValue,
  OpenFeature,
  ProviderEvents,
} from "@openfeature/web-sdk";

/** The flags this page uses when its URL names none, with their code defaults (which give the type). */
const DEFAULT_FLAGS: [string, FlagValue][] = [
  ["new-checkout", false],
  ["welcome-banner", "Welcome!"],
  ["max-cart-items", 10],
];

interface PageConfig {
  baseUrl: string | null;
  clientKey: string | null;
  targetingKey: string | null;
  flags: [string, FlagValue][];
}

/** `name:default`, the default as JSON (`false`, `3`, `"text"`, `{}`); bare text is a string default. */
function parseFlag(spec: string): [string, FlagValue] {
  const colon = spec.indexOf(":");
  if (colon < 0) return [spec, ""];
  const raw = spec.slice(colon + 1);
  try {
    return [spec.slice(0, colon), JSON.parse(raw) as FlagValue];
  } catch {
    return [spec.slice(0, colon), raw];
  }
}

function readConfig(query: URLSearchParams): PageConfig {
  const flags = query.getAll("flag").map(parseFlag);
  return {
    baseUrl: query.get("url"),
    clientKey: query.get("key"),
    targetingKey: query.get("user"),
    flags: flags.length > 0 ? flags : DEFAULT_FLAGS,
  };
}

/** The typed evaluation a flag's code default calls for. */
function evaluate(client: Client, name: string, fallback: FlagValue): EvaluationDetails<FlagValue> {
  switch (typeof fallback) {
    case "boolean":
      return client.getBooleanDetails(name, fallback);
    case "number":
      return client.getNumberDetails(name, fallback);
    case "string":
      return client.getStringDetails(name, fallback);
    default:
      return client.getObjectDetails(name, fallback as JsonValue);
  }
}

const element = (id: string): HTMLElement => {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`index.html has no #${id}`);
  return found;
};

function showStatus(status: "starting" | "ready" | "stale" | "error", text: string): void {
  const line = element("status");
  line.dataset.status = status;
  line.textContent = text;
}

/** One table row per flag: its name, the value the page uses, and why. */
function renderFlags(client: Client, flags: [string, FlagValue][]): void {
  const rows = flags.map(([name, fallback]) => {
    const details = evaluate(client, name, fallback);
    const row = document.createElement("tr");
    row.dataset.flag = name;
    row.dataset.reason = details.reason ?? "";
    row.dataset.errorCode = details.errorCode ?? "";
    const nameCell = document.createElement("th");
    nameCell.scope = "row";
    nameCell.textContent = name;
    const valueCell = document.createElement("td");
    valueCell.dataset.value = "";
    valueCell.textContent = JSON.stringify(details.value);
    const reasonCell = document.createElement("td");
    reasonCell.textContent =
      details.errorCode === undefined ? (details.reason ?? "") : `default (${details.errorCode})`;
    row.append(nameCell, valueCell, reasonCell);
    return row;
  });
  element("flags").replaceChildren(...rows);
}

async function main(): Promise<void> {
  const config = readConfig(new URLSearchParams(location.search));
  if (config.baseUrl === null || config.clientKey === null) {
    showStatus("error", "Give the service's URL and a client key: ?url=https://…&key=…");
    return;
  }
  const client = OpenFeature.getClient();
  const render = () => renderFlags(client, config.flags);
  let changes = 0;
  client.addHandler(ProviderEvents.Ready, () => {
    showStatus("ready", "Connected: values are live.");
    render();
  });
  // The provider re-fetches its bulk evaluation when the service's event stream says something this
  // key can see changed, then emits this event: the page only has to render again.
  client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
    changes += 1;
    const changesLine = element("changes");
    changesLine.dataset.count = String(changes);
    changesLine.textContent = `${changes} change(s) pushed; last: ${(details?.flagsChanged ?? []).join(", ") || "—"}.`;
    render();
  });
  client.addHandler(ProviderEvents.Stale, () => showStatus("stale", "Reconnecting: values may be out of date."));
  client.addHandler(ProviderEvents.Error, (details) => {
    showStatus("error", `Flags unavailable (code defaults in use): ${details?.message ?? "error"}`);
    render();
  });

  if (config.targetingKey !== null) await OpenFeature.setContext({ targetingKey: config.targetingKey });
  const provider = new OFREPWebProvider({
    // The service's base URL (the stack output `apiUrl`); the page's origin must be in its `corsOrigins`.
    baseUrl: config.baseUrl,
    headers: [["Authorization", `Bearer ${config.clientKey}`]],
    // No polling: the bulk response names the service's event stream (`eventStreams`), and the
    // provider's default change detection (`sse`) re-fetches only when that stream says so.
    pollInterval: 0,
  });
  try {
    await OpenFeature.setProviderAndWait(provider);
  } catch (error) {
    // Also reported through ProviderEvents.Error above; the page keeps showing code defaults.
    showStatus("error", `Flags unavailable (code defaults in use): ${(error as Error).message}`);
    render();
  }
}

void main();
