import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  type ScanCommandOutput,
} from "@aws-sdk/lib-dynamodb";
import { CONNECTION_TTL_SECONDS, SCAN_FIRST_PAGE_ROWS } from "./table";

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

    /**
     * Every connection id — or those of one segment of a parallel scan — a page at a time: first
     * at most `firstPageRows` (default SCAN_FIRST_PAGE_ROWS), then pages of ≤ 1 MB of rows. The
     * next page is read while the caller works on this one, so a fan-out starts posting after a
     * short first read rather than the whole Scan.
     */
    async *pages(
      segment?: { segment: number; totalSegments: number },
      firstPageRows = SCAN_FIRST_PAGE_ROWS,
    ): AsyncGenerator<string[]> {
      const scan = (startKey: Record<string, unknown> | undefined): Promise<ScanCommandOutput> =>
        doc.send(
          new ScanCommand({
            TableName: tableName,
            ProjectionExpression: "connectionId",
            Limit: startKey === undefined ? firstPageRows : undefined,
            ExclusiveStartKey: startKey,
            ...(segment === undefined ? {} : { Segment: segment.segment, TotalSegments: segment.totalSegments }),
          }),
        );
      let next: Promise<ScanCommandOutput> | undefined = scan(undefined);
      while (next !== undefined) {
        const page: ScanCommandOutput = await next;
        next = page.LastEvaluatedKey === undefined ? undefined : scan(page.LastEvaluatedKey);
        // Awaited on the next turn; until then a failure must not count as unhandled.
        next?.catch(() => undefined);
        yield (page.Items ?? []).map((item) => item.connectionId as string);
      }
    },

    /** Up to `limit` connection ids, and whether that was all of them. */
    async first(limit: number): Promise<{ ids: string[]; complete: boolean }> {
      const page = await doc.send(
        new ScanCommand({ TableName: tableName, ProjectionExpression: "connectionId", Limit: limit }),
      );
      return {
        ids: (page.Items ?? []).map((item) => item.connectionId as string),
        complete: page.LastEvaluatedKey === undefined,
      };
    },

    /** DynamoDB's item count of the table: refreshed about every six hours, so only an estimate. */
    async approximateCount(): Promise<number> {
      const table = await doc.send(new DescribeTableCommand({ TableName: tableName }));
      return table.Table?.ItemCount ?? 0;
    },
  };
}
