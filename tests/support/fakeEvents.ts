import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the stand-in answered: its `X-Amz-Target` operation and its JSON body. */
export interface FakeEventsRequest {
  operation: string;
  body: Record<string, any>;
}

/**
 * A stand-in for EventBridge's PutEvents (JSON 1.1) and SQS's SendMessageBatch and
 * ChangeMessageVisibility (JSON 1.0), so the change-event functions' real SDK paths run here and
 * their requests can be recorded and mapped to IAM. SQS answers with the MD5 of each body, which
 * the SDK checks.
 */
export async function startFakeEventServices() {
  const requests: FakeEventsRequest[] = [];
  const server = http.createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk) => {
      raw += chunk;
    });
    request.on("end", () => {
      const target = String(request.headers["x-amz-target"] ?? "");
      const body = raw === "" ? {} : (JSON.parse(raw) as Record<string, any>);
      const operation = target.split(".").at(-1) ?? "";
      requests.push({ operation, body });
      const reply = (protocol: string, payload: unknown) => {
        response.setHeader("Content-Type", `application/x-amz-json-${protocol}`);
        response.end(JSON.stringify(payload));
      };
      switch (target) {
        case "AWSEvents.PutEvents":
          return reply("1.1", {
            FailedEntryCount: 0,
            Entries: body.Entries.map((_: unknown, i: number) => ({ EventId: `event-${requests.length}-${i}` })),
          });
        case "AmazonSQS.SendMessageBatch":
          return reply("1.0", {
            Successful: body.Entries.map((entry: { Id: string; MessageBody: string }) => ({
              Id: entry.Id,
              MessageId: `message-${entry.Id}`,
              MD5OfMessageBody: createHash("md5").update(entry.MessageBody).digest("hex"),
            })),
            Failed: [],
          });
        case "AmazonSQS.ChangeMessageVisibility":
          return reply("1.0", {});
        default:
          response.writeHead(400).end(JSON.stringify({ __type: "UnknownOperation", message: target }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
