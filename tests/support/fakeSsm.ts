import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for SSM's GetParameter (JSON 1.1 protocol), so the deployed delete function's real
 * Powertools + SDK path can run here. Counts requests to make caching observable.
 */
export async function startFakeSsm(parameters: Map<string, string>) {
  let requests = 0;
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      requests += 1;
      const { Name } = JSON.parse(body) as { Name: string };
      const value = parameters.get(Name);
      response.setHeader("Content-Type", "application/x-amz-json-1.1");
      if (request.headers["x-amz-target"] !== "AmazonSSM.GetParameter" || value === undefined) {
        response.writeHead(400).end(JSON.stringify({ __type: "ParameterNotFound", message: Name }));
        return;
      }
      response.end(JSON.stringify({ Parameter: { Name, Type: "String", Value: value, Version: 1 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
