/**
 * An HTTP proxy in front of DynamoDB Local that sees every DynamoDB request the service sends:
 * it asks DynamoDB for the consumed capacity of each (`ReturnConsumedCapacity: TOTAL`) and
 * records operation, body and capacity, so the bench can count the work behind an API call and
 * replay the very same request against DynamoDB Local directly.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface DynamoCall {
  /** e.g. `UpdateItem`. */
  operation: string;
  table: string | undefined;
  /** The request as the service sent it (before the proxy asked for capacity). */
  headers: Record<string, string>;
  body: string;
  readCapacityUnits: number;
  writeCapacityUnits: number;
}

/** Operations that accept `ReturnConsumedCapacity`. */
const CAPACITY_OPERATIONS = new Set([
  "GetItem",
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "Query",
  "Scan",
  "BatchGetItem",
  "BatchWriteItem",
  "TransactGetItems",
  "TransactWriteItems",
]);

interface ConsumedCapacity {
  TableName?: string;
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

export interface DynamoProxy {
  readonly endpoint: string;
  /** Every DynamoDB (not Streams) call since the last `take()`. */
  take(): DynamoCall[];
  stop(): Promise<void>;
}

export async function startDynamoProxy(target: string): Promise<DynamoProxy> {
  let calls: DynamoCall[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const original = Buffer.concat(chunks).toString("utf8");
      const amzTarget = String(request.headers["x-amz-target"] ?? "");
      const operation = amzTarget.startsWith("DynamoDB_20120810.") ? amzTarget.slice(18) : undefined;
      let body = original;
      let parsed: { TableName?: string; TransactItems?: Array<Record<string, { TableName?: string }>> } = {};
      if (operation !== undefined && CAPACITY_OPERATIONS.has(operation)) {
        parsed = JSON.parse(original) as typeof parsed;
        body = JSON.stringify({ ...parsed, ReturnConsumedCapacity: "TOTAL" });
      }
      const headers = { ...request.headers, "content-length": String(Buffer.byteLength(body)) };
      const upstream = http.request(target, { method: request.method, path: request.url, headers }, (answer) => {
        const answerChunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => answerChunks.push(chunk));
        answer.on("end", () => {
          const text = Buffer.concat(answerChunks).toString("utf8");
          if (operation !== undefined) {
            let consumed: ConsumedCapacity[] = [];
            try {
              const result = JSON.parse(text) as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] };
              consumed = [result.ConsumedCapacity ?? []].flat();
            } catch {
              // not JSON: an error page; counts no capacity
            }
            calls.push({
              operation,
              // A transaction names its tables per item: "flags+flags-evaluators".
              table:
                parsed.TableName ??
                (parsed.TransactItems === undefined
                  ? consumed[0]?.TableName
                  : [...new Set(parsed.TransactItems.map((item) => Object.values(item)[0]?.TableName))].join("+")),
              headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])),
              body: original,
              // On-demand tables report only CapacityUnits; split by the kind of operation.
              readCapacityUnits: consumed.reduce(
                (sum, c) =>
                  sum + (c.ReadCapacityUnits ?? (/Get|Query|Scan/.test(operation) ? (c.CapacityUnits ?? 0) : 0)),
                0,
              ),
              writeCapacityUnits: consumed.reduce(
                (sum, c) =>
                  sum +
                  (c.WriteCapacityUnits ?? (/Put|Update|Delete|Write/.test(operation) ? (c.CapacityUnits ?? 0) : 0)),
                0,
              ),
            });
          }
          const { "content-length": _length, ...rest } = answer.headers;
          response.writeHead(answer.statusCode ?? 500, { ...rest, "content-length": String(Buffer.byteLength(text)) });
          response.end(text);
        });
      });
      upstream.on("error", (error) => {
        response.writeHead(502);
        response.end(String(error));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    take() {
      const taken = calls;
      calls = [];
      return taken;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
