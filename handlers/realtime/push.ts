import {
  type ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import type { ServerMessage } from "./messages";

/** `gone`: the client disconnected without $disconnect reaching us (API Gateway answered 410). */
export type PostOutcome = "sent" | "gone";

export function makePoster(client: ApiGatewayManagementApiClient) {
  return async (connectionId: string, message: ServerMessage | string): Promise<PostOutcome> => {
    const data = typeof message === "string" ? message : JSON.stringify(message);
    try {
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
      return "sent";
    } catch (error) {
      if (error instanceof GoneException || (error as { name?: string }).name === "GoneException") return "gone";
      throw error;
    }
  };
}

export type Poster = ReturnType<typeof makePoster>;

/**
 * Runs `work` over `items` with at most `limit` in flight, resolving when all have settled.
 * Results keep the items' order; a rejection is returned, not thrown, so one failure cannot
 * abandon the rest.
 */
export async function settleBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await work(items[index]) };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
