import * as net from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a local service, to lose connections for real: `cut()`
 * stops listening and resets every connection (the service seems gone), `restore()` listens again
 * on the same port, `freeze()` keeps connections open but stops passing bytes (a half-open link)
 * until `thaw()`.
 */
export async function startTcpProxy(targetPort: number) {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let connections = 0;
  let frozen = false;
  const server = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk) => {
        if (!frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
    await closed;
  };
  return {
    port,
    /** Connections accepted so far. */
    connections: () => connections,
    cut,
    restore: () => {
      frozen = false;
      return listen(port);
    },
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
    },
    stop: async () => {
      if (server.listening) await cut();
    },
  };
}

export type TcpProxy = Awaited<ReturnType<typeof startTcpProxy>>;
