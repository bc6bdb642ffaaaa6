/**
 * One fan-out worker invocation in a process of its own, as Lambda runs each asynchronous
 * invocation in its own execution environment: `ts-node bench/fanoutWorkerProcess.ts
 * <dynamoEndpoint> <table> <managementEndpoint>` reads one worker event from stdin, runs the
 * product's worker handler on it, prints `{"sent", "gone", "ms"}` and exits.
 */
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { performance } from "node:perf_hooks";
import { makeConnectionStore } from "../handlers/realtime/connections";
import { makeFanoutWorkerHandler } from "../handlers/realtime/scaleout";
import { makeSignedPoster } from "../handlers/realtime/signedPoster";
import { FANOUT_CONCURRENCY } from "../handlers/realtime/table";
import { localDynamoClient } from "../local/dynamodb";

const [dynamoEndpoint, tableName, managementEndpoint] = process.argv.slice(2);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const dynamo = localDynamoClient(dynamoEndpoint);
  const worker = makeFanoutWorkerHandler({
    connections: makeConnectionStore({ doc: DynamoDBDocumentClient.from(dynamo), tableName }),
    post: makeSignedPoster({
      endpoint: managementEndpoint,
      region: "local",
      credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
      maxSockets: FANOUT_CONCURRENCY,
    }),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  const started = performance.now();
  const result = await worker(JSON.parse(input));
  process.stdout.write(`${JSON.stringify({ ...result, ms: performance.now() - started })}\n`);
  process.exit(0);
});
