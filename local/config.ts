import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { MIN_TOKEN_LENGTH, type TokenConfig } from "../handlers/auth/tokens";
import { type WebhookConfig, WebhookConfigError, parseWebhooks } from "../handlers/events/model";
import { DEFAULT_OFREP_RATE_LIMIT } from "../handlers/http";
import { StartupError } from "./preflight";

/** A setting the user must fix; the message names the environment variable. */
class ConfigError extends StartupError {}

/** The local runtime's settings, from the environment (CONTRACT.md, "Local runtime"). */
export interface LocalConfig {
  port: number;
  /** Where data persists; undefined with FLAGS_IN_MEMORY=1. */
  dataDir: string | undefined;
  stack: string;
  /** Re-evaluated on every DELETE, so editing Pulumi.<stack>.yaml takes effect without a restart. */
  allowFlagDeletion: () => boolean;
  tokens: TokenConfig[];
  /** Ids of the tokens generated because their variable was unset (to print them once). */
  generatedTokenIds: string[];
  corsOrigins: string[];
  /** OFREP requests per source IP per minute (FLAGS_RATE_LIMIT); 0: no limiter. */
  ofrepRateLimit: number;
  /** FLAGS_WEBHOOKS: where change events are POSTed (Standard Webhooks), none by default. */
  webhooks: WebhookConfig[];
}

/** The environment variable each local token comes from, by token id. */
export const TOKEN_VARIABLES = {
  admin: "FLAGS_ADMIN_TOKEN",
  reader: "FLAGS_READ_TOKEN",
  client: "FLAGS_CLIENT_TOKEN",
} as const;

/**
 * The local tokens: `admin` (read+write), `reader` (read) and `client` (evaluate: a client key),
 * each generated when unset.
 */
function localTokens(env: NodeJS.ProcessEnv): { tokens: TokenConfig[]; generated: string[] } {
  const generated: string[] = [];
  const tokenFrom = (variable: string, id: string): string => {
    const value = env[variable];
    if (value !== undefined && value !== "") {
      if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
        throw new ConfigError(
          `${variable} must be at least ${MIN_TOKEN_LENGTH} characters without spaces (make one with: openssl rand -hex 32)`,
        );
      }
      return value;
    }
    generated.push(id);
    return randomBytes(32).toString("base64url");
  };
  return {
    tokens: [
      { id: "admin", token: tokenFrom(TOKEN_VARIABLES.admin, "admin"), scopes: ["read", "write"] },
      { id: "reader", token: tokenFrom(TOKEN_VARIABLES.reader, "reader"), scopes: ["read"] },
      { id: "client", token: tokenFrom(TOKEN_VARIABLES.client, "client"), scopes: ["evaluate"] },
    ],
    generated,
  };
}

function parseBoolean(name: string, raw: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new ConfigError(`${name} must be 'true' or 'false', not '${raw}'`);
}

/** `allowFlagDeletion` from `Pulumi.<stack>.yaml`, or undefined when the file or key is absent. */
export function stackAllowFlagDeletion(projectDir: string, stack: string): boolean | undefined {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return undefined;
  const project = parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name: string };
  const stackConfig = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const value = stackConfig?.config?.[`${project.name}:allowFlagDeletion`];
  if (value === undefined) return undefined;
  return typeof value === "boolean"
    ? value
    : parseBoolean(`${project.name}:allowFlagDeletion in ${file}`, String(value));
}

/** FLAGS_RATE_LIMIT: OFREP requests per IP per minute, 0 for none; the AWS default when unset. */
function ofrepRateLimit(env: NodeJS.ProcessEnv): number {
  const raw = env.FLAGS_RATE_LIMIT;
  if (raw === undefined || raw === "") return DEFAULT_OFREP_RATE_LIMIT;
  const limit = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(limit)) {
    throw new ConfigError(
      `FLAGS_RATE_LIMIT must be a whole number of OFREP requests per IP per minute (0 turns the limiter off), not '${raw}'`,
    );
  }
  return limit;
}

/** FLAGS_WEBHOOKS: the JSON of the `webhooks` config key, `[{"url", "secret"}]`. */
function localWebhooks(env: NodeJS.ProcessEnv): WebhookConfig[] {
  try {
    return parseWebhooks(env.FLAGS_WEBHOOKS, "FLAGS_WEBHOOKS");
  } catch (error) {
    if (error instanceof WebhookConfigError) throw new ConfigError(error.message);
    throw error;
  }
}

export function resolveLocalConfig(env: NodeJS.ProcessEnv, projectDir: string): LocalConfig {
  const rawPort = env.PORT ?? "3000";
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`PORT must be a port number (0 picks a free one), not '${rawPort}'`);
  const stack = env.FLAGS_STACK ?? "dev";
  const inMemory = env.FLAGS_IN_MEMORY === "1" || env.FLAGS_IN_MEMORY === "true";
  const fromEnv = env.ALLOW_FLAG_DELETION;
  const allowFromEnv =
    fromEnv === undefined || fromEnv === "" ? undefined : parseBoolean("ALLOW_FLAG_DELETION", fromEnv);
  const { tokens, generated } = localTokens(env);
  for (const [i, first] of tokens.entries()) {
    const same = tokens.slice(i + 1).find((other) => other.token === first.token);
    if (same !== undefined) {
      const [a, b] = [first, same].map((t) => TOKEN_VARIABLES[t.id as keyof typeof TOKEN_VARIABLES]);
      throw new ConfigError(`${a} and ${b} must differ (a token has one id and one set of scopes)`);
    }
  }
  return {
    port,
    dataDir: inMemory ? undefined : path.resolve(projectDir, env.FLAGS_DATA_DIR ?? ".flags-local"),
    stack,
    allowFlagDeletion: () => allowFromEnv ?? stackAllowFlagDeletion(projectDir, stack) ?? true,
    tokens,
    generatedTokenIds: generated,
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").filter((origin) => origin !== ""),
    ofrepRateLimit: ofrepRateLimit(env),
    webhooks: localWebhooks(env),
  };
}

/** The start-up lines about the tokens: a generated one is printed once, a configured one never. */
export function tokenLines(config: Pick<LocalConfig, "tokens" | "generatedTokenIds">): string[] {
  return config.tokens.map(({ id, token, scopes }) => {
    const variable = TOKEN_VARIABLES[id as keyof typeof TOKEN_VARIABLES];
    const source = config.generatedTokenIds.includes(id)
      ? `${token}  (generated; set ${variable} to keep one)`
      : `from ${variable}`;
    return `token ${id} (${scopes.join("+")}): ${source}`;
  });
}
