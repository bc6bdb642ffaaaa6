/** The local service's stream consumers: pollers standing in for Lambda's event source mappings. */
import type { Logger } from "@aws-lambda-powertools/logger";
import { evaluatorsTableFor } from "../handlers/evaluators/table";
import { makeFanoutHandler, makeSnapshotHandler } from "../handlers/realtime/handlers";
import { makeFanoutWorkerHandler } from "../handlers/realtime/scaleout";
import { EVALUATORS_FILTER, FLAGS_STREAM_FILTERS, SNAPSHOT_FILTER } from "../handlers/realtime/table";
import { type AuditTrail, startAuditWriter } from "./audit";
import type { Dependency } from "./dependency";
import type { Stores } from "./stores";
import { type StreamPoller, startStreamPoller } from "./streams";
import type { Teardown } from "./teardown";
import type { RealtimeApi } from "./websocketApi";

/** What this step reads of the service's options (`ServiceOptions` documents each). */
export interface ConsumersOptions {
  /** Where the audit writer's lines go; undefined: no audit trail. */
  auditTrail?: AuditTrail;
}

/** Step: stream pollers standing in for Lambda's event source mappings (fan-out, snapshots, audit). */
export async function startConsumers(
  stores: Stores,
  dependency: Dependency,
  deps: RealtimeApi,
  logger: Logger,
  options: ConsumersOptions,
  teardown: Teardown,
): Promise<void> {
  const discard = (table: string) => (records: unknown[], error: unknown) =>
    logger.error("stream records discarded after retries", { table, count: records.length, error: error as Error });
  const common = { dynamo: stores.client, endpoint: dependency.endpoint };
  // The fan-out's worker, invoked (and waited for) as on AWS when a change has more posts than
  // one invocation's share.
  const worker = makeFanoutWorkerHandler({ connections: stores.connections, post: deps.post, logger });
  // One fan-out on both streams, as in AWS: two event source mappings on one function.
  const fanout = makeFanoutHandler({
    connections: stores.connections,
    post: deps.post,
    logger,
    evaluators: stores.evaluators.state,
    invokeWorker: async (event) => {
      await worker(event);
    },
  });
  const evaluatorsTableName = evaluatorsTableFor(stores.tableName);
  const pollers: Array<Promise<StreamPoller>> = [
    startStreamPoller({
      ...common,
      tableName: stores.tableName,
      handler: fanout,
      filters: FLAGS_STREAM_FILTERS,
      onDiscard: discard(stores.tableName),
    }),
    startStreamPoller({
      ...common,
      tableName: evaluatorsTableName,
      handler: fanout,
      filters: [EVALUATORS_FILTER],
      onDiscard: discard(evaluatorsTableName),
    }),
    startStreamPoller({
      ...common,
      tableName: stores.connectionsTableName,
      handler: makeSnapshotHandler(deps.snapshotDeps),
      filters: [SNAPSHOT_FILTER],
      onDiscard: discard(stores.connectionsTableName),
    }),
  ];
  if (options.auditTrail !== undefined) {
    // Flag and evaluator changes in one trail, as the two Pipes on AWS feed one delivery stream.
    pollers.push(
      startAuditWriter({
        ...common,
        sources: [
          { tableName: stores.tableName, filters: FLAGS_STREAM_FILTERS },
          { tableName: evaluatorsTableName, filters: [EVALUATORS_FILTER] },
        ],
        trail: options.auditTrail,
        logger,
      }),
    );
  }
  for (const poller of pollers) teardown.add(async () => (await poller).stop());
  await Promise.all(pollers);
  // Sockets close first on stop, so their $disconnect handlers run while the tables still exist.
  teardown.add(() => deps.websocket.close());
}
