import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** Requests that write, whether or not their condition held (a failed condition consumes WCU too). */
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);
const METERED = new Set([...WRITES, "GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"]);

interface Consumed {
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  CapacityUnits?: number;
}

/** What a client spent since `reset()`, as DynamoDB reported it (`ReturnConsumedCapacity: TOTAL`). */
export interface CapacityMeter {
  /** Requests per operation (`GetItem`, `UpdateItem`, ...), failed ones included. */
  requests: Record<string, number>;
  /** Write requests, failed conditional writes included. */
  writeRequests(): number;
  readUnits: number;
  writeUnits: number;
  reset(): void;
}

/**
 * Meters a DynamoDB client (and every document client made from it): each metered request asks
 * for its consumed capacity, which is added up. The body is rewritten before signing.
 */
export function meterCapacity(client: DynamoDBClient): CapacityMeter {
  const meter: CapacityMeter = {
    requests: {},
    readUnits: 0,
    writeUnits: 0,
    writeRequests: () => Object.entries(meter.requests).reduce((n, [op, count]) => n + (WRITES.has(op) ? count : 0), 0),
    reset() {
      meter.requests = {};
      meter.readUnits = 0;
      meter.writeUnits = 0;
    },
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? "").replace(/Command$/, "");
      const request = args.request as { body?: unknown; headers?: Record<string, string> } | undefined;
      const raw = request?.body;
      // The SDK serializes JSON bodies as bytes (a Uint8Array adapter) or a string.
      const text =
        typeof raw === "string" ? raw : raw instanceof Uint8Array ? new TextDecoder().decode(raw) : undefined;
      if (!METERED.has(operation) || request === undefined || text === undefined) return next(args);
      const body = JSON.stringify({ ...(JSON.parse(text) as object), ReturnConsumedCapacity: "TOTAL" });
      request.body = body;
      if (request.headers !== undefined) request.headers["content-length"] = String(Buffer.byteLength(body));
      meter.requests[operation] = (meter.requests[operation] ?? 0) + 1;
      const result = await next(args);
      const consumed = [(result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity ?? []].flat();
      for (const c of consumed) {
        const write = WRITES.has(operation);
        const units = c.CapacityUnits ?? (write ? c.WriteCapacityUnits : c.ReadCapacityUnits) ?? 0;
        if (write) meter.writeUnits += units;
        else meter.readUnits += units;
      }
      return result;
    },
    { step: "build", name: "meterCapacity", priority: "low" },
  );
  return meter;
}
