/**
 * The local service, composed: each step is its own file (HTTP server, DynamoDB Local, stores,
 * WebSocket API, REST API, stream consumers), and `startService` runs them in order.
 */
import type { AddressInfo } from "node:net";
import { Logger } from "@aws-lambda-powertools/logger";
import { type TokenConfig, toTokenRecords } from "../handlers/auth/tokens";
import type { WebhookConfig } from "../handlers/events/model";
import { makeClockRunner } from "../handlers/rollouts/runner";
import { makeRollouts } from "../handlers/rollouts/service";
import { makeScheduleRunner } from "../handlers/schedules/runner";
import { openAuditTrail } from "./audit";
import { startConsumers } from "./consumers";
import { startDependency } from "./dependency";
import { listen, stopAccepting } from "./httpServer";
import type { LocalEventStreamLimits } from "./eventStream";
import { StartupError } from "./preflight";
import { serveRestApi } from "./restApi";
import { makeLocalClock } from "./schedules";
import { gateUntilServing } from "./startupGate";
import { openStores } from "./stores";
import { Teardown } from "./teardown";
import type { WebSocketLimits, WebSocketMetrics } from "./websocket";
import { startWebSocketApi } from "./websocketApi";

export interface ServiceOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Persist here; undefined keeps everything in memory. Ignored when `dynamoEndpoint` is given. */
  dataDir?: string;
  /** Use this DynamoDB (Local) endpoint instead of starting one; tests share one this way. */
  dynamoEndpoint?: string;
  /** Default `flags`. Tests give each suite its own tables in a shared DynamoDB Local. */
  tableName?: string;
  /** Default `connections`. */
  connectionsTableName?: string;
  allowFlagDeletion: () => boolean;
  /** Accepted tokens; only their hashes are kept. None means every request but /health is refused. */
  tokens: TokenConfig[];
  /** Origins allowed by CORS; default none (CORS off). */
  corsOrigins?: string[];
  /**
   * OFREP requests (`/ofrep/...`) one source IP may make per minute before a 429 THROTTLED with
   * Retry-After, as WAF's rate rule on AWS; 0 turns the limiter off. Default 1000
   * (`DEFAULT_OFREP_RATE_LIMIT`).
   */
  ofrepRateLimit?: number;
  /** Write the audit trail under `<auditDataDir>/audit/`; undefined: no audit files. */
  auditDataDir?: string;
  /** Change events are POSTed to these (Standard Webhooks); default none. */
  webhooks?: WebhookConfig[];
  /** Waits between a webhook delivery's attempts; default LOCAL_RETRY_DELAYS_MS (6 attempts over 62 s). */
  webhookRetryDelaysMs?: readonly number[];
  /** Keep pending webhook deliveries under `<webhookDataDir>/webhooks/` across restarts; undefined: in memory. */
  webhookDataDir?: string;
  /** Aborting stops a start-up in progress and undoes what it started. */
  signal?: AbortSignal;
  /** Progress lines while starting (e.g. while the JVM starts). */
  onProgress?: (line: string) => void;
  /** Called when DynamoDB Local died and could not be restarted: the service cannot go on. */
  onFatal?: (error: Error) => void;
  /** Default: a Powertools Logger (its level from POWERTOOLS_LOG_LEVEL). */
  logger?: Logger;
  /** What one WebSocket connection may cost; defaults in `DEFAULT_WEBSOCKET_LIMITS`. */
  websocketLimits?: Partial<WebSocketLimits>;
  /** The built web console served at `/console/`; default `console/dist` of this checkout. */
  consoleDir?: string;
  /** OFREP event streams: how often they look, how long they last, how many; defaults in `DEFAULT_LOCAL_EVENT_STREAM_LIMITS`. */
  eventStreamLimits?: Partial<LocalEventStreamLimits>;
}

export interface RunningService {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  /** e.g. `ws://127.0.0.1:3000/ws` */
  readonly websocketUrl: string;
  /** e.g. `http://127.0.0.1:3000/console/` */
  readonly consoleUrl: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly connectionsTableName: string;
  /** Connections the WebSocket server closed, by cause. */
  websocketMetrics(): Readonly<WebSocketMetrics>;
  /** The DynamoDB Local process this service supervises (undefined with `dynamoEndpoint`). */
  dynamoPid(): number | undefined;
  /** Stops serving, then stops what it started (DynamoDB Local included). */
  stop(): Promise<void>;
}

/**
 * Runs the service on one machine: the same handlers the Lambdas run. HTTP requests become API
 * Gateway proxy events, WebSocket traffic becomes API Gateway WebSocket events, and pollers on the
 * DynamoDB Local streams invoke the stream consumers as Lambda's event source mappings do.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const teardown = new Teardown();
  const step = async <T>(run: () => Promise<T> | T): Promise<T> => {
    if (options.signal?.aborted) throw new StartupError("start-up interrupted");
    return run();
  };
  try {
    const logger = options.logger ?? new Logger({ serviceName: "feature-flags-local" });
    const tokenRecords = toTokenRecords(options.tokens);
    const server = await step(() => listen(options.port, teardown));
    // Until the last step, whatever arrives is answered 503, never held (./startupGate.ts).
    const gate = gateUntilServing(server, { corsOrigins: options.corsOrigins });
    const dependency = await step(() => startDependency(options, teardown));
    const stores = await step(() => openStores(options, dependency, teardown));
    const realtime = await step(() => startWebSocketApi(gate.routes, stores, tokenRecords, logger, options, teardown));
    // One audit trail for the stream writer's change lines and the REST layer's read lines.
    const auditTrail = await step(() =>
      options.auditDataDir === undefined ? undefined : openAuditTrail({ dataDir: options.auditDataDir, logger }),
    );
    if (auditTrail !== undefined) teardown.add(() => auditTrail.close());
    // Scheduled changes and rollouts' steps: the runner the Lambda runs, on timers instead of
    // EventBridge Scheduler. The clock calls the runner (and lists rollouts' steps) only once armed.
    const scheduleClock = makeLocalClock({
      pending: async () => [...(await stores.schedules.allPending()), ...(await rollouts.pendingSteps())],
      run: (event) => clockRunner(event),
      logger,
    });
    teardown.add(() => scheduleClock.stop());
    const rollouts = makeRollouts({
      flags: stores.flags,
      rollouts: stores.rollouts,
      clock: scheduleClock,
      holdRoundingSeconds: 1,
      logger,
    });
    const clockRunner = makeClockRunner({
      schedule: makeScheduleRunner({ flags: stores.flags, schedules: stores.schedules, logger }),
      rollouts,
      logger,
    });
    const rest = await step(() =>
      serveRestApi(gate.routes, stores, tokenRecords, dependency, logger, {
        ...options,
        scheduleClock,
        rollouts,
        onRead: auditTrail?.read,
      }),
    );
    teardown.add(() => rest.eventStreams.closeAll());
    await step(() => startConsumers(stores, dependency, realtime, logger, { ...options, auditTrail }, teardown));
    // On stop, new requests are refused before anything they would need goes away.
    // Not waiting for the server to close: WebSocket clients still connected end with the
    // WebSocket API's own step, so their $disconnect handlers run.
    teardown.add(() => stopAccepting(server));
    teardown.add(() => dependency.stopRestarting());
    // Pending schedules and rollout steps from before this start: armed again, the ones that came
    // due meanwhile run now.
    await step(() => scheduleClock.resume());
    const { port } = server.address() as AddressInfo;
    gate.open();
    return {
      url: `http://127.0.0.1:${port}`,
      websocketUrl: `ws://127.0.0.1:${port}/ws`,
      consoleUrl: `http://127.0.0.1:${port}/console/`,
      port,
      dynamoEndpoint: dependency.endpoint,
      tableName: stores.tableName,
      connectionsTableName: stores.connectionsTableName,
      websocketMetrics: () => realtime.websocket.metrics(),
      dynamoPid: () => dependency.pid(),
      stop: () => teardown.run(),
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}
