import { startService } from "../../../local/service";
import { sharedDynamo, uniqueTableName } from "../../../tests/support/hooks";
import { type Client, client } from "../../../tests/support/http";
import { TEST_TOKENS } from "../../../tests/support/tokens";
import type { ServiceRef } from "../src/service";

/** The stack's token and a colleague's: both may write, and the service names each by its id. */
export const STACK_TOKEN = "test-pulumi-stack-token-0123456789abcdef";
export const ALICE_TOKEN = "test-alice-write-token-0123456789abcdef";

/** What Pulumi keeps next to a dynamic resource's properties: the serialized provider. */
export const PROVIDER = { __provider: "exports.handler = () => provider; /* serialized by Pulumi */" };

/**
 * The local runtime over the shared DynamoDB Local (as `startTestService`), with the test tokens
 * and two more write tokens: `pulumi-stack`, the one the resources use, and `alice`, someone
 * changing flags over REST meanwhile.
 */
export async function startFlagService(options: { allowFlagDeletion?: () => boolean } = {}): Promise<{
  service: ServiceRef;
  alice: Client;
  stop: () => Promise<void>;
}> {
  const dynamo = await sharedDynamo();
  const running = await startService({
    port: 0,
    dynamoEndpoint: dynamo.endpoint,
    tableName: uniqueTableName("pulumi-flags"),
    allowFlagDeletion: options.allowFlagDeletion ?? (() => true),
    tokens: [
      ...TEST_TOKENS,
      { id: "pulumi-stack", token: STACK_TOKEN, scopes: ["read", "write"] },
      { id: "alice", token: ALICE_TOKEN, scopes: ["read", "write"] },
    ],
    ofrepRateLimit: 0,
  });
  return {
    service: { url: running.url, token: STACK_TOKEN },
    alice: client(running.url, ALICE_TOKEN),
    stop: () => running.stop(),
  };
}

/** Runs `action`, which must fail, and returns its error. */
export async function failure(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected it to fail, but it succeeded");
}
