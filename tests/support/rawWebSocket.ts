import { randomBytes } from "node:crypto";
import * as net from "node:net";

/** One WebSocket frame as a client might write it, well-formed or not. */
export interface FrameSpec {
  fin: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001; nonzero is a protocol error without an extension. */
  rsv: number;
  opcode: number;
  /** Clients must mask; an unmasked client frame is a protocol error. */
  masked: boolean;
  payload: Buffer;
  /** Length field encoding: `minimal`, or force 16-bit / 64-bit (non-minimal is still valid). */
  lengthEncoding?: "minimal" | "16" | "64";
  /** Bytes of the payload actually written (default all): fewer leaves the frame unfinished. */
  truncateTo?: number;
}

/** Encodes a frame byte for byte, including the invalid ones. */
export function encodeFrame(frame: FrameSpec): Buffer {
  const length = frame.payload.length;
  const encoding =
    frame.lengthEncoding === undefined || frame.lengthEncoding === "minimal"
      ? length < 126
        ? "7"
        : length < 65536
          ? "16"
          : "64"
      : frame.lengthEncoding;
  const header: number[] = [(frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f)];
  const maskBit = frame.masked ? 0x80 : 0;
  const extended = Buffer.alloc(encoding === "7" ? 0 : encoding === "16" ? 2 : 8);
  if (encoding === "7") header.push(maskBit | length);
  else if (encoding === "16") {
    header.push(maskBit | 126);
    extended.writeUInt16BE(length & 0xffff);
  } else {
    header.push(maskBit | 127);
    extended.writeBigUInt64BE(BigInt(length));
  }
  const mask = frame.masked ? randomBytes(4) : Buffer.alloc(0);
  const payload = Buffer.from(frame.payload);
  if (frame.masked) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  const written = payload.subarray(0, frame.truncateTo ?? payload.length);
  return Buffer.concat([Buffer.from(header), extended, mask, written]);
}

/** A text frame from a well-behaved client. */
export const textFrame = (text: string): Buffer =>
  encodeFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from(text) });

/** A socket past the WebSocket handshake, and what the server sent on it. */
export interface RawConnection {
  socket: net.Socket;
  /** Resolves with the close code the server sent (or 1006 if it dropped the connection without one). */
  closed: Promise<number>;
  /** Resolves once the server answers a ping carrying `payload`. */
  pong(payload: Buffer): Promise<void>;
}

/** Performs the handshake by hand on a plain TCP socket, so that anything can be written after it. */
export function rawConnect(port: number, pathAndQuery: string): Promise<RawConnection> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  let buffered = Buffer.alloc(0);
  let upgraded = false;
  let closeCode = 1006;
  const pongWaiters: Array<{ payload: Buffer; resolve: () => void }> = [];

  /** Reads server frames (never masked) as they complete. */
  const readFrames = () => {
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 0x0f;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffered.length < offset + length) return;
      const payload = buffered.subarray(offset, offset + length);
      buffered = buffered.subarray(offset + length);
      if (opcode === 8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (opcode === 10) {
        for (const waiter of pongWaiters.splice(0)) {
          if (waiter.payload.equals(payload)) waiter.resolve();
          else pongWaiters.push(waiter);
        }
      }
    }
  };

  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(closeCode)));
  return new Promise((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString("latin1");
        buffered = buffered.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) {
          reject(new Error(`handshake refused: ${head.split("\r\n")[0]}`));
          socket.destroy();
          return;
        }
        upgraded = true;
        resolve({
          socket,
          closed,
          pong: (payload) => new Promise<void>((wake) => pongWaiters.push({ payload, resolve: wake })),
        });
      }
      readFrames();
    });
    socket.once("close", () => reject(new Error("closed during the handshake")));
    socket.write(
      `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}
