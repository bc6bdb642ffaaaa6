import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { localDynamoClient } from "../../local/dynamodb";
import { ensureSchedulesTable } from "../../local/tables";
import { sharedDynamo } from "./hooks";
import { ofType, type RecordedResource } from "./pulumiMocks";

/** A schedule the stand-in holds, as CreateSchedule sent it. */
export interface HeldSchedule {
  name: string;
  group: string;
  body: Record<string, any>;
}

/**
 * A stand-in for EventBridge Scheduler's CreateSchedule and DeleteSchedule (REST-JSON:
 * `POST`/`DELETE /schedules/{Name}`), so the deployed functions' real SDK path runs here.
 * A schedule whose target input names `refuseFlag` is refused (400 ValidationException), as
 * Scheduler refuses a bad request.
 */
export async function startFakeScheduler(options: { refuseFlag?: string } = {}) {
  const held = new Map<string, HeldSchedule>();
  const deleted: string[] = [];
  const server = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://scheduler");
      const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
      const send = (status: number, body: unknown, type?: string) => {
        response.writeHead(status, {
          "Content-Type": "application/json",
          ...(type === undefined ? {} : { "x-amzn-ErrorType": type }),
        });
        response.end(JSON.stringify(body));
      };
      if (match === null) return send(404, { Message: "no such route" }, "ResourceNotFoundException");
      const name = decodeURIComponent(match[1]);
      if (request.method === "POST") {
        const body = JSON.parse(text) as Record<string, any>;
        const input = JSON.parse(body.Target?.Input ?? "{}") as { flagName?: string };
        if (options.refuseFlag !== undefined && input.flagName === options.refuseFlag) {
          return send(400, { Message: "refused by the test" }, "ValidationException");
        }
        if (held.has(name)) return send(409, { Message: "exists" }, "ConflictException");
        held.set(name, { name, group: body.GroupName, body });
        return send(200, { ScheduleArn: `arn:aws:scheduler:local:000000000000:schedule/${body.GroupName}/${name}` });
      }
      if (request.method === "DELETE") {
        if (!held.delete(name)) return send(404, { Message: `${name} not found` }, "ResourceNotFoundException");
        deleted.push(name);
        return send(200, {});
      }
      return send(405, { Message: "unsupported" }, "ValidationException");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Schedules created and not deleted, by name. */
    held,
    /** Names of the schedules deleted. */
    deleted,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * The program's schedules table, created in the run's shared DynamoDB Local under the name the
 * program gives its functions (the artifact harness maps the tables it knows; this one it does not),
 * so the deployed functions find it as they would on AWS.
 */
export async function ensureProgramSchedulesTable(resources: RecordedResource[]): Promise<string> {
  const runner = ofType(resources, "aws:lambda/function:Function").find((fn) => fn.name.endsWith("-schedule-runner"));
  const tableName: string | undefined = runner?.inputs.environment?.variables?.SCHEDULES_TABLE_NAME;
  if (tableName === undefined) throw new Error("the program has no schedule runner with SCHEDULES_TABLE_NAME");
  const client = localDynamoClient((await sharedDynamo()).endpoint);
  try {
    await ensureSchedulesTable(client, tableName);
  } finally {
    client.destroy();
  }
  return tableName;
}
