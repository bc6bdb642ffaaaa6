import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { CONNECTION_TTL_SECONDS } from "./table";

export interface ConnectionStoreDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  now?: () => Date;
}

export type ConnectionStore = ReturnType<typeof makeConnectionStore>;

/** Open WebSocket connections, one row each. */
export function makeConnectionStore({ doc, tableName, now = () => new Date() }: ConnectionStoreDeps) {
  return {
    async add(connectionId: string, tokenId: string | null): Promise<void> {
      const at = now();
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            connectionId,
            tokenId,
            connectedAt: at.toISOString(),
            expiresAt: Math.floor(at.getTime() / 1000) + CONNECTION_TTL_SECONDS,
          },
        }),
      );
    },

    async remove(connectionId: string): Promise<void> {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { connectionId } }));
    },

    /** Every connection id, a page (≤ 1 MB of rows) at a time. */
    async *pages(): AsyncGenerator<string[]> {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({ TableName: tableName, ProjectionExpression: "connectionId", ExclusiveStartKey: startKey }),
        );
        yield (page.Items ?? []).map((item) => item.connectionId as string);
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
    },
  };
}
