/**
 * Hostile WebSocket clients for `bench/reliability.ts`, in a process of their own so that their
 * busy loop does not slow the measuring process: `stalled` readers that stop reading, and a
 * flooder that sends `{"action":"sync"}` as fast as it can and reconnects whenever it is cut off.
 * Usage: ts-node bench/hostileClients.ts <websocketUrl> <stalled>. Prints `ready`, runs until killed.
 */
import { connect } from "../tests/support/wsClient";

async function main(): Promise<void> {
  const [url, stalledArg] = process.argv.slice(2);
  for (let i = 0; i < Number(stalledArg); i++) {
    const reader = await connect(url);
    await reader.waitFor((m) => m.type === "snapshot");
    (reader.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  console.log("ready");
  let cutOff = 0;
  for (;;) {
    const flooder = await connect(url).catch(() => undefined);
    if (flooder === undefined) continue;
    while (flooder.ws.readyState === flooder.ws.OPEN) {
      flooder.ws.send('{"action":"sync"}');
      await new Promise((resolve) => setImmediate(resolve));
    }
    flooder.ws.terminate();
    cutOff += 1;
    process.stderr.write(`flooder cut off ${cutOff}\n`);
  }
}

void main();
