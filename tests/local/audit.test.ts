import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AuditLine, EvaluatorAuditLine } from "../../handlers/audit/records";
import type { RunningService } from "../../local/service";
import { client, type Client } from "../support/http";
import { startTestService } from "../support/localService";
import { READ_TOKEN } from "../support/tokens";

function auditFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ndjson"));
}

function readLines(dataDir: string): AuditLine[] {
  const root = path.join(dataDir, "audit");
  return auditFiles(root)
    .flatMap((file) => fs.readFileSync(path.join(root, file), "utf8").split("\n"))
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as AuditLine);
}

describe("audit trail on the local runtime", () => {
  let service: RunningService;
  let api: Client;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-audit-"));
    ({ service, api } = await startTestService({ auditDataDir: dataDir }));
  });
  after(async () => {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("writes exactly one line per create, read, update and delete, in order per flag, with actors", async () => {
    const reader = client(service.url, READ_TOKEN);
    await api("POST", "/flags", { body: { flagName: "one", value: 1 } });
    await api("POST", "/flags", { body: { flagName: "two", value: "x" } });
    await reader("GET", "/flags/one");
    await api("PUT", "/flags/two", { body: { value: "y" } });
    await api("PUT", "/flags/one", { body: { value: 2 }, headers: { "If-Match": "1" } });
    await api("GET", "/flags?limit=10"); // a listing is not a read of a flag
    await api("DELETE", "/flags/one");
    await api("GET", "/flags/missing"); // a 404 changes nothing

    const deadline = Date.now() + 10_000;
    while (readLines(dataDir).length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
    const lines = readLines(dataDir);

    const about = (flagName: string) =>
      lines.filter((l) => l.flagName === flagName).map((l) => [l.eventName, l.actor, l.version]);
    assert.deepEqual(about("one"), [
      ["created", "admin", 1],
      ["read", "reader", 1],
      ["updated", "admin", 2],
      ["deleted", "admin", 2],
    ]);
    assert.deepEqual(about("two"), [
      ["created", "admin", 1],
      ["updated", "admin", 2],
    ]);
    // `at` to the millisecond, a delete's too: a flag's lines sort in the order of its events.
    const times = lines.filter((l) => l.flagName === "one").map((l) => l.at);
    assert.deepEqual([...times].sort(), times);
    assert.match(times[3], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(lines.length, 6);
    assert.equal(new Set(lines.map((l) => l.eventId)).size, 6);
  });

  it("lays files out like the S3 bucket: audit/year=YYYY/month=MM/day=DD/hour=HH/*.ndjson", () => {
    const files = auditFiles(path.join(dataDir, "audit"));
    assert.ok(files.length > 0);
    for (const file of files) {
      assert.match(file, /^year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.ndjson$/);
    }
  });

  it("writes evaluator changes into the same trail: created, updated, deleted, with actor and before/after", async () => {
    const already = readLines(dataDir).length;
    await api("PUT", "/evaluators/audited", { body: { expression: { in: [{ var: "plan" }, ["beta"]] } } });
    // A flag taking and releasing a reference changes no evaluator: no line of its own.
    const rich = {
      variants: { on: true, off: false },
      defaultVariant: "off",
      targeting: { if: [{ $ref: "audited" }, "on"] },
    };
    await api("POST", "/flags", { body: { flagName: "refers", ...rich } });
    await api("PUT", "/evaluators/audited", {
      body: { expression: { in: [{ var: "plan" }, ["beta", "pilot"]] } },
      headers: { "If-Match": "1" },
    });
    await api("DELETE", "/flags/refers");
    await api("DELETE", "/evaluators/audited");

    const evaluatorLines = () =>
      (readLines(dataDir).slice(already) as Array<AuditLine | EvaluatorAuditLine>).filter(
        (line): line is EvaluatorAuditLine => "evaluatorName" in line,
      );
    const deadline = Date.now() + 10_000;
    while (evaluatorLines().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
    const lines = evaluatorLines();

    assert.deepEqual(
      lines.map((l) => [l.eventName, l.evaluatorName, l.actor, l.version]),
      [
        ["created", "audited", "admin", 1],
        ["updated", "audited", "admin", 2],
        ["deleted", "audited", "admin", 2],
      ],
    );
    const [created, updated, deleted] = lines;
    assert.ok(!("flagName" in created));
    assert.deepEqual([created.before, created.after?.expression], [null, { in: [{ var: "plan" }, ["beta"]] }]);
    assert.deepEqual(
      [updated.before?.expression, updated.after?.expression],
      [{ in: [{ var: "plan" }, ["beta"]] }, { in: [{ var: "plan" }, ["beta", "pilot"]] }],
    );
    assert.deepEqual([deleted.before?.version, deleted.after], [2, null]);
    assert.deepEqual(
      [...lines.map((l) => l.at)].sort(),
      lines.map((l) => l.at),
    );
    // The flag's own lines, and nothing for the version item or the reference counts.
    assert.equal(readLines(dataDir).length - already, 3 + 2);
  });
});
