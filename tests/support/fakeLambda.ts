import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One invocation the stand-in accepted. */
export interface AcceptedInvocation {
  functionName: string;
  invocationType: string;
  payload: unknown;
}

/**
 * A stand-in for Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`): records
 * each invocation and hands it to `run` (if given). `RequestResponse` answers 200 with the result
 * once `run` settles — a thrown error as Lambda reports it, `X-Amz-Function-Error: Unhandled`;
 * `Event` answers 202 at once. `refuse` answers 429 instead.
 */
export async function startFakeLambda(
  options: { run?: (functionName: string, payload: unknown) => Promise<unknown>; refuse?: () => boolean } = {},
) {
  const accepted: AcceptedInvocation[] = [];
  const running = new Set<Promise<unknown>>();
  const server = http.createServer((request, response) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? "");
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (match === null || request.method !== "POST") {
        response.writeHead(404, { "x-amzn-ErrorType": "ResourceNotFoundException" }).end("{}");
        return;
      }
      if (options.refuse?.()) {
        response.writeHead(429, { "x-amzn-ErrorType": "TooManyRequestsException" }).end('{"message":"Rate exceeded"}');
        return;
      }
      const invocation = {
        functionName: decodeURIComponent(match[1]),
        invocationType: String(request.headers["x-amz-invocation-type"] ?? "RequestResponse"),
        payload: JSON.parse(body) as unknown,
      };
      accepted.push(invocation);
      const run = (options.run?.(invocation.functionName, invocation.payload) ?? Promise.resolve(null)).then(
        (result) => ({ ok: true as const, result }),
        (error: Error) => ({ ok: false as const, error }),
      );
      running.add(run);
      void run.finally(() => running.delete(run));
      if (invocation.invocationType === "Event") {
        response.writeHead(202).end();
        return;
      }
      void run.then((outcome) => {
        if (outcome.ok) {
          response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(outcome.result ?? null));
        } else {
          const body = { errorType: outcome.error.name, errorMessage: outcome.error.message };
          response
            .writeHead(200, { "Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled" })
            .end(JSON.stringify(body));
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted,
    /** Resolves when every invocation handed to `run` so far has finished. */
    settled: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
