import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { DELIVERY_TIMEOUT_MS, type WebhookConfig } from "../../handlers/events/model";
import { resolveLocalConfig } from "../../local/config";
import type { RunningService } from "../../local/service";
import { uniqueTableName } from "../support/hooks";
import { client } from "../support/http";
import { serviceOverTable } from "../support/localService";
import { ADMIN_TOKEN, READ_TOKEN } from "../support/tokens";
import { type Answer, newSecret, type ReceivedWebhook, startWebhookReceiver } from "../support/webhooks";

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
const RETRY_DELAYS_MS = [100, 200, 400, 800, 1600];

/** The audit lines a receiver accepted (answered 2xx), in the order it accepted them. */
const accepted = (received: ReceivedWebhook[], answers: Answer[]) =>
  received
    .filter((_, i) => typeof answers[i] === "number" && (answers[i] as number) < 300)
    .map((r) => JSON.parse(r.body));

describe("change events on the local runtime (FLAGS_WEBHOOKS)", () => {
  let dataDir: string;
  let tableName: string;
  let flaky: Receiver;
  let dead: Receiver;
  const flakyAnswers: Answer[] = [];
  const deadAnswers: Answer[] = [];
  let deadRecovered = false;
  let service: RunningService | undefined;

  const start = async (webhooks: WebhookConfig[]) =>
    serviceOverTable(tableName, {
      webhooks,
      webhookRetryDelaysMs: RETRY_DELAYS_MS,
      webhookDataDir: dataDir,
      logger: new Logger({ logLevel: "CRITICAL" }),
    });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-webhooks-"));
    tableName = uniqueTableName("webhooks");
    // Fails its first two requests, then accepts everything.
    flaky = await startWebhookReceiver(newSecret(), (n) => {
      const answer = n < 2 ? 500 : 204;
      flakyAnswers.push(answer);
      return answer;
    });
    // Never answers, until it recovers (after a restart of the service).
    dead = await startWebhookReceiver(newSecret(), () => {
      const answer: Answer = deadRecovered ? 200 : "hang";
      deadAnswers.push(answer);
      return answer;
    });
  });
  after(async () => {
    await service?.stop();
    await flaky?.stop();
    await dead?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("delivers every change, signed, in each flag's order through failures, while a dead receiver holds up neither the writes nor the other receiver", async () => {
    service = await start([flaky.webhook, dead.webhook]);
    const api = client(service.url, ADMIN_TOKEN);
    const reader = client(service.url, READ_TOKEN);
    const writeTimes: number[] = [];
    const write = async (...args: Parameters<typeof api>) => {
      const started = Date.now();
      const response = await api(...args);
      writeTimes.push(Date.now() - started);
      assert.ok(response.status < 300, `${args[0]} ${args[1]}: ${response.status}`);
    };

    await write("POST", "/flags", { body: { flagName: "ramp", value: 1 } });
    await write("PUT", "/flags/ramp", { body: { value: 2 } });
    await reader("GET", "/flags/ramp"); // a read: never an event
    await write("PUT", "/flags/ramp", { body: { value: 3 } });
    await write("PUT", "/evaluators/eu", { body: { expression: { "==": [{ var: "country" }, "de"] } } });
    await write("POST", "/flags", { body: { flagName: "other", value: true } });
    await write("DELETE", "/flags/ramp");
    await flaky.until((r) => accepted(r, flakyAnswers).length >= 6);

    const lines = accepted(flaky.received, flakyAnswers);
    assert.deepEqual(
      lines.filter((l) => l.flagName === "ramp").map((l) => [l.eventName, l.version]),
      [
        ["created", 1],
        ["updated", 2],
        ["updated", 3],
        ["deleted", 3],
      ],
      "one flag's events in version order, though the first two attempts failed",
    );
    assert.deepEqual(
      lines.filter((l) => l.evaluatorName === "eu").map((l) => l.eventName),
      ["created"],
    );
    assert.ok(
      lines.every((l) => l.eventName !== "read"),
      "no read is delivered",
    );
    assert.ok(
      flaky.received.every((r) => r.verified),
      "every request verifies with standardwebhooks",
    );
    // Retries carry the event's id again: the failed attempts' ids are among the accepted ones.
    const failedIds = flaky.received.slice(0, 2).map((r) => r.headers["webhook-id"]);
    const acceptedIds = flaky.received.slice(2).map((r) => r.headers["webhook-id"]);
    assert.ok(failedIds.every((id) => acceptedIds.includes(id)));
    assert.equal(new Set(acceptedIds).size, acceptedIds.length, "each event accepted once");
    assert.ok(
      lines.every((l) => l.eventId === flaky.received.find((r) => r.body === JSON.stringify(l))?.headers["webhook-id"]),
    );
    // Meanwhile the dead receiver was tried (and hangs): nothing of it reached the writes.
    assert.ok(dead.received.length >= 1, "the dead receiver was tried");
    assert.equal(deadAnswers.filter((a) => a !== "hang").length, 0);
    // A write that waited for the dead receiver would take its 10 s timeout at least.
    assert.ok(Math.max(...writeTimes) < DELIVERY_TIMEOUT_MS * 0.8, `writes took ${writeTimes.join(", ")} ms`);
    // And the other receiver had everything before the dead one's first attempt could even time out.
    assert.ok(Math.max(...flaky.received.map((r) => r.at)) < dead.received[0].at + DELIVERY_TIMEOUT_MS);
  });

  it("keeps a dead receiver's pending deliveries across a restart and delivers them, in order, once it answers", async () => {
    assert.ok(service);
    await service.stop();
    service = undefined;
    const journal = JSON.parse(fs.readFileSync(path.join(dataDir, "webhooks", "pending.json"), "utf8")) as unknown[];
    assert.equal(journal.length, 6, "the dead receiver's six deliveries are pending on disk");

    deadRecovered = true;
    const before = dead.received.length;
    service = await start([flaky.webhook, dead.webhook]);
    await dead.until((r) => r.slice(before).filter((x) => x.verified).length >= 6);

    const lines = dead.received.slice(before).map((r) => JSON.parse(r.body));
    assert.deepEqual(
      lines.filter((l) => l.flagName === "ramp").map((l) => [l.eventName, l.version]),
      [
        ["created", 1],
        ["updated", 2],
        ["updated", 3],
        ["deleted", 3],
      ],
    );
    const until = Date.now() + 5_000;
    while (fs.readFileSync(path.join(dataDir, "webhooks", "pending.json"), "utf8") !== "[]" && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(fs.readFileSync(path.join(dataDir, "webhooks", "pending.json"), "utf8"), "[]");
  });
});

describe("FLAGS_WEBHOOKS", () => {
  it("takes the JSON of the webhooks config key, and refuses a bad entry with one line naming the variable and the fix", () => {
    const secret = newSecret();
    const env = { FLAGS_WEBHOOKS: JSON.stringify([{ url: "http://127.0.0.1:8080/hook", secret }]) };
    assert.deepEqual(resolveLocalConfig(env, process.cwd()).webhooks, [{ url: "http://127.0.0.1:8080/hook", secret }]);
    assert.deepEqual(resolveLocalConfig({}, process.cwd()).webhooks, []);

    const bad = { FLAGS_WEBHOOKS: JSON.stringify([{ url: "http://127.0.0.1:8080/hook", secret: "s3cret" }]) };
    assert.throws(
      () => resolveLocalConfig(bad, process.cwd()),
      (error: Error) =>
        error.name !== "WebhookConfigError" &&
        /^FLAGS_WEBHOOKS\[0\]\.secret must be "whsec_".*openssl rand/.test(error.message),
    );
  });
});
