import { strict as assert } from "node:assert";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { localDynamoClient } from "../../local/dynamodb";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import WebSocket from "ws";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";
import { connect, type TestClient } from "../support/wsClient";

describe("WebSocket push on the local runtime (real ws clients)", () => {
  let service: RunningService;
  let api: Client;
  const clients: TestClient[] = [];
  const open = async (token = READ_TOKEN) => {
    const client = await connect(`${service.websocketUrl}?token=${encodeURIComponent(token)}`);
    clients.push(client);
    return client;
  };
  const connectionRows = async () => {
    const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
    try {
      const rows = await doc.send(new ScanCommand({ TableName: service.connectionsTableName }));
      return (rows.Items ?? []).map((row) => row.connectionId as string);
    } finally {
      doc.destroy();
    }
  };

  before(async () => {
    ({ service, api } = await startTestService());
    await api("POST", "/flags", { body: { flagName: "existing", value: "before-connect" } });
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await service.stop();
  });

  describe("connecting", () => {
    it("refuses a connection without a token or with an unknown one (401)", async () => {
      await assert.rejects(connect(service.websocketUrl), /HTTP 401/);
      await assert.rejects(connect(`${service.websocketUrl}?token=not-a-token-0123456789abcdef`), /HTTP 401/);
    });

    it("refuses a client key (scope evaluate) with 403 and the contract's body, recording no connection", async () => {
      const rowsBefore = await connectionRows();
      const refusal = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`${service.websocketUrl}?token=${encodeURIComponent(CLIENT_TOKEN)}`);
        ws.on("open", () => reject(new Error("a client key opened the WebSocket")));
        ws.on("error", () => {});
        ws.on("unexpected-response", (_request, response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (body += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
      });
      assert.equal(refusal.status, 403);
      const { error } = JSON.parse(refusal.body) as { error: { code: string; message: string } };
      assert.equal(error.code, "FORBIDDEN");
      assert.match(error.message, /read scope/);
      assert.deepEqual((await connectionRows()).sort(), rowsBefore.sort());
      // Read and write tokens still connect.
      for (const token of [READ_TOKEN, ADMIN_TOKEN]) await (await open(token)).waitFor((m) => m.type === "snapshot");
    });

    it("sends a snapshot of every flag, unprompted, right after connecting with a read token", async () => {
      const client = await open(READ_TOKEN);
      const snapshot = await client.waitFor((m) => m.type === "snapshot");
      const existing = snapshot.flags.find((f: { flagName: string }) => f.flagName === "existing");
      assert.equal(existing.value, "before-connect");
    });

    it("records the connection with the token id that opened it", async () => {
      const client = await open(ADMIN_TOKEN);
      await client.waitFor((m) => m.type === "snapshot");
      const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
      const rows = await doc.send(new ScanCommand({ TableName: service.connectionsTableName }));
      doc.destroy();
      assert.ok(rows.Items?.some((row) => row.tokenId === "admin" && row.expiresAt > Date.now() / 1000));
    });
  });

  describe("changes", () => {
    let watchers: TestClient[];

    before(async () => {
      watchers = await Promise.all([open(), open(), open()]);
      await Promise.all(watchers.map((w) => w.waitFor((m) => m.type === "snapshot")));
    });

    it("pushes flag.created, flag.updated and flag.deleted to every client, in order", async () => {
      await api("POST", "/flags", { body: { flagName: "pushed", value: 1 } });
      await api("PUT", "/flags/pushed", { body: { value: 2 } });
      await api("DELETE", "/flags/pushed");
      const changes = [
        ["flag.created", 1, 1],
        ["flag.updated", 2, 2],
        ["flag.deleted", null, 2],
      ].map((change) => JSON.stringify(change));
      for (const watcher of watchers) {
        await watcher.waitFor((m) => m.type === "flag.deleted" && m.flagName === "pushed");
        const about = watcher.messages
          .filter((m) => m.flag?.flagName === "pushed" || m.flagName === "pushed")
          .map((m) => JSON.stringify([m.type, m.flag?.value ?? null, m.flag?.version ?? m.version]));
        // Changes that land in one stream batch are coalesced to the newest: what arrives is those
        // changes in order, never one twice, always ending with the delete.
        const positions = about.map((change) => changes.indexOf(change));
        assert.ok(
          positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])),
          about.join(" "),
        );
        assert.equal(about.at(-1), changes[2]);
      }
    });

    it("sends plain JSON flags, not DynamoDB-typed attributes", async () => {
      await api("POST", "/flags", { body: { flagName: "plain", value: { rollout: [10, 20] }, description: "x" } });
      const message = await watchers[0].waitFor((m) => m.type === "flag.created" && m.flag.flagName === "plain");
      assert.deepEqual(message.flag.value, { rollout: [10, 20] });
      assert.equal(message.flag.description, "x");
      assert.equal(message.flag.createdBy, "admin");
    });

    it("sends nothing for a read", async () => {
      await api("POST", "/flags", { body: { flagName: "quiet", value: true } });
      await watchers[0].waitFor((m) => m.type === "flag.created" && m.flag.flagName === "quiet");
      await api("GET", "/flags/quiet");
      // A later change is the marker: everything about "quiet" has arrived by the time it does.
      await api("POST", "/flags", { body: { flagName: "marker", value: true } });
      await watchers[0].waitFor((m) => m.type === "flag.created" && m.flag.flagName === "marker");
      const about = watchers[0].messages.filter((m) => m.flag?.flagName === "quiet");
      assert.deepEqual(
        about.map((m) => m.type),
        ["flag.created"],
      );
    });

    it("answers {action: sync} with a fresh snapshot", async () => {
      const before = watchers[1].messages.filter((m) => m.type === "snapshot").length;
      watchers[1].ws.send(JSON.stringify({ action: "sync" }));
      await watchers[1].waitFor(
        (m) => m.type === "snapshot" && m.flags.some((f: { flagName: string }) => f.flagName === "marker"),
      );
      assert.equal(watchers[1].messages.filter((m) => m.type === "snapshot").length, before + 1);
    });

    it("answers any other message with an error message, not silence", async () => {
      watchers[2].ws.send("hello");
      const error = await watchers[2].waitFor((m) => m.type === "error");
      assert.equal(error.error.code, "VALIDATION_FAILED");
    });
  });

  describe("shared evaluators", () => {
    const updates = (client: TestClient) => client.messages.filter((m) => m.type === "evaluators.updated");

    it("carries every evaluator in the snapshot's first part", async () => {
      await api("PUT", "/evaluators/staff", {
        body: { expression: { ends_with: [{ var: "email" }, "@example.com"] } },
      });
      const client = await open();
      const snapshot = await client.waitFor((m) => m.type === "snapshot" && m.part === 1);
      assert.deepEqual(snapshot.evaluators.staff, { ends_with: [{ var: "email" }, "@example.com"] });
    });

    it("pushes evaluators.updated with all of them on a new expression, a creation and a deletion, and nothing for a flag write that only moves a reference count", async () => {
      const client = await open();
      await client.waitFor((m) => m.type === "snapshot");

      await api("PUT", "/evaluators/staff", { body: { expression: { in: [{ var: "team" }, ["core"]] } } });
      await client.waitFor(
        (m) =>
          m.type === "evaluators.updated" && JSON.stringify(m.evaluators.staff) === '{"in":[{"var":"team"},["core"]]}',
      );
      const afterReplace = updates(client).length;

      // A flag that takes a reference: the evaluators table sees a refCount and a flag-set version change only.
      const rich = {
        variants: { on: true, off: false },
        defaultVariant: "off",
        targeting: { if: [{ $ref: "staff" }, "on", "off"] },
      };
      await api("POST", "/flags", { body: { flagName: "staff-only", ...rich } });
      await client.waitFor((m) => m.type === "flag.created" && m.flag.flagName === "staff-only");
      // A later evaluator change on the same stream is the marker: the reference count's records came before it.
      await api("PUT", "/evaluators/beta", { body: { expression: { "==": [{ var: "beta" }, true] } } });
      const created = await client.waitFor((m) => m.type === "evaluators.updated" && m.evaluators.beta !== undefined);
      assert.equal(updates(client).length, afterReplace + 1, JSON.stringify(updates(client)));
      assert.deepEqual(Object.keys(created.evaluators).sort(), ["beta", "staff"]);

      await api("DELETE", "/evaluators/beta");
      const removed = await client.waitFor(
        (m) =>
          m.type === "evaluators.updated" &&
          m.evaluators.beta === undefined &&
          m.evaluators.staff !== undefined &&
          updates(client).indexOf(m) > afterReplace,
      );
      assert.deepEqual(Object.keys(removed.evaluators), ["staff"]);
    });
  });

  describe("disconnecting", () => {
    it("removes the connection row when a client closes", async () => {
      const client = await open();
      await client.waitFor((m) => m.type === "snapshot");
      const before = await connectionRows();
      await client.close();
      const deadline = Date.now() + 5000;
      while ((await connectionRows()).length >= before.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal((await connectionRows()).length, before.length - 1);
    });

    it("removes a connection that vanished without $disconnect once a push to it gets 410", async () => {
      // A row API Gateway never told us about the end of (its $disconnect was lost).
      const doc = DynamoDBDocumentClient.from(localDynamoClient(service.dynamoEndpoint));
      const { PutCommand } = await import("@aws-sdk/lib-dynamodb");
      const stale = "c3RhbGVjb25uZWN0aW9u";
      await doc.send(new PutCommand({ TableName: service.connectionsTableName, Item: { connectionId: stale } }));
      await api("POST", "/flags", { body: { flagName: "after-vanish", value: true } });
      const deadline = Date.now() + 5000;
      let row: unknown = {};
      while (row !== undefined && Date.now() < deadline) {
        row = (
          await doc.send(new GetCommand({ TableName: service.connectionsTableName, Key: { connectionId: stale } }))
        ).Item;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      doc.destroy();
      assert.equal(row, undefined);
    });
  });
});
