import { strict as assert } from "node:assert";
import * as net from "node:net";
import type { Logger } from "@aws-lambda-powertools/logger";
import fc from "fast-check";
import type { RunningService } from "../../local/service";
import type { Client } from "../support/http";
import { startTestService } from "../support/localService";
import { encodeFrame, type FrameSpec, rawConnect } from "../support/rawWebSocket";
import { READ_TOKEN } from "../support/tokens";
import { connect, type TestClient } from "../support/wsClient";

/** A logger that keeps what it was asked to log, by level. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; extra: unknown }> = [];
  const at =
    (level: string) =>
    (message: string, extra: unknown = undefined) =>
      void lines.push({ level, message, extra });
  const logger = { debug: at("DEBUG"), info: at("INFO"), warn: at("WARN"), error: at("ERROR") };
  return { logger: logger as unknown as Logger, lines };
}

const frame = (spec: Partial<FrameSpec>): Buffer =>
  encodeFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.alloc(0), ...spec });

const closeFrame = (code: number) => {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return frame({ opcode: 8, payload });
};

/** The frames the issue found each ending the whole process, and the close code each must get. */
const HOSTILE_FRAMES: Array<[string, Buffer, number]> = [
  ["a frame with RSV1 set", frame({ rsv: 0b100, payload: Buffer.from("{}") }), 1002],
  ["an unmasked frame", frame({ masked: false, payload: Buffer.from('{"action":"sync"}') }), 1002],
  ["invalid UTF-8 in a text frame", frame({ payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 1007],
  ["a message over the size limit", frame({ payload: Buffer.alloc(1024 * 1024 + 1, 0x61) }), 1009],
  ["a close code of 999", closeFrame(999), 1002],
  ["a 200-byte ping", frame({ opcode: 9, payload: Buffer.alloc(200, 1) }), 1002],
  ["an unknown opcode", frame({ opcode: 3, payload: Buffer.from("x") }), 1002],
  ["a fragmented ping", frame({ opcode: 9, fin: false, payload: Buffer.from("p") }), 1002],
  ["a stray continuation frame", frame({ opcode: 0, payload: Buffer.from("x") }), 1002],
];

/** Random frames: any opcode, RSV bits, mask, length encoding, payload, and fragment sequences. */
function frameSequence() {
  const payload = fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 140 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 60 }).map((s) => new TextEncoder().encode(s)) },
    { weight: 1, arbitrary: fc.constantFrom('{"action":"sync"}', '{"action":"x"}', "{").map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.integer({ min: 126, max: 70_000 }).map((n) => new Uint8Array(n)) },
  );
  const oneFrame = fc.record({
    fin: fc.boolean(),
    rsv: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
    opcode: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
    ),
    masked: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    payload: payload.map((bytes) => Buffer.from(bytes)),
    lengthEncoding: fc.constantFrom("minimal", "minimal", "16", "64") as fc.Arbitrary<"minimal" | "16" | "64">,
  });
  return fc.record({
    frames: fc.array(oneFrame, { minLength: 1, maxLength: 4 }),
    /** Leave the last frame unfinished (the client stops mid-frame). */
    truncate: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(20) }),
  });
}

describe("WebSocket server under hostile clients (raw frames, local runtime)", () => {
  let service: RunningService;
  let api: Client;
  let healthy: TestClient;
  const recorded = recordingLogger();
  const wsPath = `/ws?token=${encodeURIComponent(READ_TOKEN)}`;

  before(async () => {
    ({ service, api } = await startTestService({ logger: recorded.logger }));
    healthy = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
    await healthy.waitFor((m) => m.type === "snapshot");
  });
  after(async () => {
    await healthy.close();
    await service.stop();
  });

  /** REST answers and the healthy client is still connected. */
  const assertServing = async () => {
    const health = await api("GET", "/health");
    assert.equal(health.status, 200);
    assert.equal(healthy.ws.readyState, healthy.ws.OPEN, "the healthy client was disconnected");
  };

  for (const [what, bytes, expected] of HOSTILE_FRAMES) {
    it(`closes only that connection, with ${expected}, on ${what}`, async () => {
      const raw = await rawConnect(service.port, wsPath);

      raw.socket.write(bytes);

      assert.equal(await raw.closed, expected);
      await assertServing();
    });
  }

  it("logs a client's protocol error at WARN, never ERROR, and counts it", async () => {
    const before = service.websocketMetrics().protocolErrors;
    const raw = await rawConnect(service.port, wsPath);

    raw.socket.write(frame({ opcode: 3 }));
    await raw.closed;

    const warned = recorded.lines.filter((l) => l.level === "WARN" && /protocol/.test(l.message));
    assert.ok(warned.length > 0, "no WARN line for the protocol error");
    assert.deepEqual(
      recorded.lines.filter((l) => l.level === "ERROR" && /websocket/i.test(l.message)),
      [],
    );
    assert.equal(service.websocketMetrics().protocolErrors, before + 1);
  });

  it("keeps serving REST and WebSocket through 2,000 random frame sequences (fast-check)", async function () {
    let cases = 0;
    let closedByServer = 0;
    /** One hostile connection: the frames, then a ping that is answered if the server still reads it. */
    const attack = async ({ frames, truncate }: { frames: FrameSpec[]; truncate: number | null }) => {
      const raw = await rawConnect(service.port, wsPath);
      const bytes = frames.map((spec, i) =>
        encodeFrame(
          i === frames.length - 1 && truncate !== null
            ? { ...spec, truncateTo: Math.min(truncate, spec.payload.length) }
            : spec,
        ),
      );
      const probe = Buffer.from(`probe-${cases++}`);
      const outcome = Promise.race([
        raw.closed.then(() => "closed"),
        raw.pong(probe).then(() => "open"),
        // An unfinished frame leaves the server waiting for the rest: that is correct too.
        new Promise((resolve) => setTimeout(resolve, 100, "waiting")),
      ]);
      raw.socket.write(Buffer.concat([...bytes, frame({ opcode: 9, payload: probe })]));
      if ((await outcome) === "closed") closedByServer += 1;
      raw.socket.destroy();
    };
    await fc.assert(
      // Eight connections at a time, as a crowd of bad clients would be.
      fc.asyncProperty(fc.array(frameSequence(), { minLength: 8, maxLength: 8 }), async (attacks) => {
        await Promise.all(attacks.map(attack));
        await assertServing();
      }),
      { numRuns: 250, seed: 20261130, endOnFailure: true },
    );

    assert.equal(cases, 2000);
    assert.ok(closedByServer > 100, `only ${closedByServer} sequences made the server close the connection`);
    // Still serving after all of it: a change reaches the healthy client, and a new client connects.
    await api("POST", "/flags", { body: { flagName: "after-fuzz", value: true } });
    await healthy.waitFor((m) => m.type === "flag.created" && m.flag.flagName === "after-fuzz");
    const late = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
    await late.waitFor((m) => m.type === "snapshot");
    await late.close();
  });
});

describe("stopping the local runtime with clients still connected", () => {
  it("stops promptly, closing an open WebSocket, a raw socket mid-frame and one mid-handshake", async () => {
    const { service } = await startTestService();
    const open = await connect(`${service.websocketUrl}?token=${encodeURIComponent(READ_TOKEN)}`);
    const openClosed = new Promise((resolve) => open.ws.once("close", resolve));
    const raw = await rawConnect(service.port, `/ws?token=${encodeURIComponent(READ_TOKEN)}`);
    raw.socket.write(frame({ payload: Buffer.from('{"action":"sync"}'), truncateTo: 3 }));
    // An upgrade request whose headers never finish.
    const handshaking = net.connect(service.port, "127.0.0.1");
    await new Promise((resolve) => handshaking.once("connect", resolve));
    handshaking.on("error", () => undefined);
    handshaking.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
    const handshakeEnded = new Promise((resolve) => handshaking.once("close", resolve));

    const started = Date.now();
    await service.stop();

    assert.ok(Date.now() - started < 10_000, `stop took ${Date.now() - started} ms`);
    await Promise.all([openClosed, raw.closed, handshakeEnded]);
  });
});
