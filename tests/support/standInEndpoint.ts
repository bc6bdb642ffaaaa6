import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for one AWS API during a mocha suite: an HTTP server on a free port whose URL the
 * SDK is pointed at through `endpointVariable` (e.g. `AWS_ENDPOINT_URL_API_GATEWAY`), with dummy
 * credentials. `answer` writes each response (the request's body already drained); `requests`
 * lists each `METHOD /path` served. Registers its own `before`/`after` hooks in the calling suite.
 */
export function standInEndpoint(
  endpointVariable: string,
  answer: (request: http.IncomingMessage, response: http.ServerResponse) => void,
): { requests: string[] } {
  const served = { requests: [] as string[] };
  let server: http.Server;
  const saved = { ...process.env };
  before(async () => {
    server = http.createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        served.requests.push(`${request.method} ${request.url}`);
        answer(request, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    Object.assign(process.env, {
      [endpointVariable]: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
    });
  });
  after(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
  });
  return served;
}
