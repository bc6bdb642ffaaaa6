/**
 * What the `fanout` and `scaleout` sections share: the Management API stand-in in its own process,
 * a connections table filled with rows, the product's poster and a logger that says nothing.
 */
import { spawn } from "node:child_process";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { BatchWriteCommand, type BatchWriteCommandOutput, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { makePoster, settleBounded } from "../handlers/realtime/push";
import { makeSignedPoster } from "../handlers/realtime/signedPoster";
import { FANOUT_CONCURRENCY } from "../handlers/realtime/table";

/** The Management API stand-in in its own process, so it does not take the fan-out's CPU. */
export async function managementApiProcess(delayMs: number): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "bench/managementApiProcess.ts", String(delayMs)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once("exit", (code) => reject(new Error(`management API stand-in exited with ${code}`)));
  });
  return {
    endpoint,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

/** Connection rows `conn-0` … in a fresh connections table, written 25 at a time, 8 requests in flight. */
export async function fillConnections(doc: DynamoDBDocumentClient, tableName: string, count: number): Promise<void> {
  const batches = Array.from({ length: Math.ceil(count / 25) }, (_, b) =>
    Array.from({ length: Math.min(25, count - b * 25) }, (_, j) => ({
      PutRequest: { Item: { connectionId: `conn-${b * 25 + j}` } },
    })),
  );
  await settleBounded(batches, 8, async (rows) => {
    let pending: unknown[] | undefined = rows;
    while (pending !== undefined && pending.length > 0) {
      const result: BatchWriteCommandOutput = await doc.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }),
      );
      pending = result.UnprocessedItems?.[tableName];
    }
  });
}

export const silentLogger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The product's poster (handlers/entrypoints.ts): SigV4-signed posts over a keep-alive agent.
 * `BENCH_FANOUT_POSTER=sdk` measures the AWS SDK client instead, for comparison.
 */
export function benchPoster(endpoint: string) {
  const credentials = { accessKeyId: "bench", secretAccessKey: "bench", sessionToken: "bench" };
  if (process.env.BENCH_FANOUT_POSTER === "sdk") {
    return makePoster(
      new ApiGatewayManagementApiClient({
        endpoint,
        region: "local",
        credentials,
        requestHandler: { httpAgent: { maxSockets: FANOUT_CONCURRENCY, keepAlive: true } },
      }),
    );
  }
  return makeSignedPoster({ endpoint, region: "local", credentials, maxSockets: FANOUT_CONCURRENCY });
}
