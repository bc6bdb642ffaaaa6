import type { Logger } from "@openfeature/core";
import { type BackoffOptions, backoffDelay } from "./backoff";
import { type FlagSet, SnapshotAssembly } from "./flagSet";
import { type HandshakeRefusal, isTokenRefusal } from "./handshake";
import { type ChangeMessage, parseMessage } from "./protocol";

/** The part of the WHATWG WebSocket this package uses; browsers' and `ws`'s both have it. */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Connection settings. Defaults fit API Gateway's limits. */
export interface SyncOptions {
  /** The WebSocket URL: `websocketUrl`, or `ws://127.0.0.1:$PORT/ws`. */
  url: string;
  /** A token with the `read` scope. */
  token: string;
  /** How long a lost connection is STALE before it is ERROR. Default 5000 ms. */
  graceMs?: number;
  /**
   * A connection attempt whose handshake is not answered within this has failed, and is retried
   * (a service that accepts the TCP connection and never answers would otherwise hold it for
   * good). Default 5000 ms.
   */
  handshakeTimeoutMs?: number;
  /** Reconnect backoff (full jitter). Default 500 ms doubling up to 30 s. */
  backoff?: BackoffOptions;
  /**
   * A connection silent this long sends `{"action": "ping"}`. API Gateway closes a connection after
   * 10 minutes without a message in either direction. Default 5 minutes.
   */
  keepaliveMs?: number;
  /** A ping not answered (by any message) within this is a dead connection. Default 10 s. */
  pongTimeoutMs?: number;
  /**
   * A connection this old is replaced: a new one is opened, and the old one closed once the new one
   * holds its snapshot, so the provider never goes STALE for it. API Gateway ends every connection
   * at 2 hours. Default 110 minutes (less up to 10 % jitter).
   */
  maxConnectionAgeMs?: number;
}

export type SyncStatus = "NOT_READY" | "READY" | "STALE" | "ERROR" | "FATAL";

/** What the sync tells its provider, which turns it into OpenFeature events. */
export interface SyncListener {
  /** READY again after STALE or ERROR (the first READY is `start()` resolving). */
  ready(): void;
  stale(message: string): void;
  error(message: string, fatal: boolean): void;
  changed(flagsChanged: string[]): void;
}

/**
 * The serving service refused the token (see `isTokenRefusal`): retrying cannot help. A 401 is a
 * token it does not know; a 403 one it knows without the `read` scope — in practice a client key
 * (scope `evaluate`), which may evaluate over OFREP but never open the WebSocket.
 */
export class AuthenticationRefused extends Error {
  constructor(readonly status: number) {
    super(
      status === 403
        ? "the service refused the token (HTTP 403): it lacks the read scope. A client key (scope evaluate) " +
            "cannot use the WebSocket: in a web page, evaluate with it through OFREP " +
            "(@openfeature/ofrep-web-provider), or give this provider a token with the read scope"
        : `the service refused the token (HTTP ${status}); check that it is valid and has the read scope`,
    );
    this.name = "AuthenticationRefused";
  }
}

class Connection {
  readonly assembly = new SnapshotAssembly();
  httpStatus: number | undefined;
  /** The handshake was refused by a serving service, for the token. */
  tokenRefused = false;
  /** Fails the attempt if the handshake is not answered in time; cleared once open. */
  handshakeTimer: Timer | undefined;
  retired = false;
  /** Whether this connection has delivered a complete snapshot yet. */
  synced = false;
  constructor(readonly socket: WebSocketLike) {}
}

type Timer = ReturnType<typeof setTimeout>;
/** Timers must not keep a Node process alive on their own. */
const unref = (timer: Timer): Timer => {
  (timer as { unref?: () => void }).unref?.();
  return timer;
};

/**
 * `ws` names the refused handshake's status in its error ("Unexpected server response: 401") when
 * nothing reads the response itself (a `ws`-like class without `unexpected-response`).
 */
function handshakeStatus(event: unknown): number | undefined {
  const { message, error } = (event ?? {}) as { message?: unknown; error?: { message?: unknown } };
  const text = `${String(message ?? "")} ${String(error?.message ?? "")}`;
  const match = /Unexpected server response: (\d{3})/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** What `ws` hands an `unexpected-response` listener: the request, and the response being read. */
interface RefusedResponse {
  statusCode?: number;
  headers: HandshakeRefusal["headers"];
  setEncoding(encoding: "utf8"): void;
  on(event: "data", listener: (chunk: string) => void): void;
  on(event: "end" | "error" | "aborted", listener: () => void): void;
}

/**
 * With `ws`, reads a refused handshake's status, headers and the start of its body (the body says
 * whether the service refused the token), then calls `done` once. Browsers' WebSocket shows none
 * of it: a refusal there is a failed attempt like any other, and retried.
 */
function readRefusals(socket: WebSocketLike, done: (refusal: HandshakeRefusal) => void): void {
  const emitter = socket as unknown as {
    on?: (event: "unexpected-response", listener: (request: unknown, response: RefusedResponse) => void) => void;
  };
  if (typeof emitter.on !== "function") return;
  emitter.on("unexpected-response", (_request, response) => {
    let body = "";
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      done({ status: response.statusCode ?? 0, headers: response.headers, body });
    };
    response.setEncoding("utf8");
    response.on("data", (chunk) => {
      body = (body + chunk).slice(0, 4096);
      if (body.length >= 4096) finish();
    });
    response.on("end", finish);
    response.on("error", finish);
    response.on("aborted", finish);
  });
}

/**
 * Keeps a FlagSet current over the service's WebSocket: snapshot on connect (in parts), changes
 * as they happen, reconnects with backoff, keep-alive, and connection rotation before API
 * Gateway's 2-hour cut.
 */
export class FlagSync {
  status: SyncStatus = "NOT_READY";
  private current: Connection | undefined;
  private candidate: Connection | undefined;
  private attempt = 0;
  private closed = false;
  private initial: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private readonly timers = new Map<"reconnect" | "grace" | "init" | "keepalive" | "pong" | "rotate", Timer>();
  private readonly graceMs: number;

  constructor(
    private readonly flags: FlagSet,
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly options: SyncOptions,
    private readonly listener: SyncListener,
    private readonly logger: Logger,
    /** Called when the first connection fails: true if it loaded flags to serve (a cache). */
    private readonly fallback: () => boolean = () => false,
  ) {
    this.graceMs = options.graceMs ?? 5000;
  }

  /**
   * Connects. Resolves once a complete snapshot is held (or a fallback serves); rejects at once
   * with AuthenticationRefused when the serving service refuses the token, or after `graceMs`
   * without flags (it keeps trying, and the listener hears `ready()` when it succeeds).
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.initial = { resolve, reject };
      this.setTimer("init", this.graceMs, () => {
        this.status = "ERROR";
        this.settleInitial(new Error(`no flags from ${this.options.url} within ${this.graceMs} ms; still trying`));
      });
      this.current = this.open();
    });
  }

  /** Closes every connection and stops retrying. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const connection of [this.current, this.candidate]) if (connection !== undefined) this.retire(connection);
    this.current = this.candidate = undefined;
    this.settleInitial(new Error("closed"));
  }

  private open(): Connection {
    const url = new URL(this.options.url);
    url.searchParams.set("token", this.options.token);
    const connection = new Connection(new this.WebSocketImpl(url.toString()));
    const { socket } = connection;
    connection.assembly.reset();
    const timeoutMs = this.options.handshakeTimeoutMs ?? 5000;
    connection.handshakeTimer = unref(
      setTimeout(() => {
        this.logger.warn(`no answer to the WebSocket handshake within ${timeoutMs} ms; retrying`);
        this.abandon(connection);
      }, timeoutMs),
    );
    readRefusals(socket, (refusal) => {
      connection.httpStatus = refusal.status;
      connection.tokenRefused = isTokenRefusal(refusal);
      this.abandon(connection);
    });
    socket.onopen = () => {
      clearTimeout(connection.handshakeTimer);
      if (connection === this.current) this.armKeepalive();
    };
    socket.onmessage = (event) =>
      this.receive(connection, typeof event.data === "string" ? event.data : String(event.data));
    socket.onerror = (event) => {
      connection.httpStatus ??= handshakeStatus(event);
    };
    socket.onclose = () => this.lost(connection);
    return connection;
  }

  private receive(connection: Connection, data: string): void {
    if (connection.retired) return;
    if (connection === this.current) this.armKeepalive();
    const message = parseMessage(data);
    if (message === undefined || message.type === "pong" || message.type === "error") return;
    if (message.type === "snapshot") {
      const complete = connection.assembly.add(message);
      if (complete === "out-of-order") return this.resync(connection);
      if (complete !== undefined) this.snapshotHeld(connection, complete.flags, complete.evaluators, complete.since);
      return;
    }
    connection.assembly.note(message);
    // Until its first snapshot, a connection's changes wait for it (they are applied with it), so
    // a reconnect yields READY and then one CONFIGURATION_CHANGED, not a trickle before READY.
    if (connection.synced) this.change(message);
  }

  private change(message: ChangeMessage): void {
    const changed = this.flags.apply(message);
    if (changed.length > 0 && this.flags.held && this.status !== "NOT_READY") this.listener.changed(changed);
  }

  private resync(connection: Connection): void {
    this.logger.warn("snapshot parts arrived out of order; asking for a fresh snapshot");
    connection.assembly.reset();
    connection.socket.send(JSON.stringify({ action: "sync" }));
  }

  private snapshotHeld(
    connection: Connection,
    flags: Parameters<FlagSet["replace"]>[0],
    evaluators: Parameters<FlagSet["replace"]>[1],
    since: ChangeMessage[],
  ): void {
    if (connection === this.candidate) {
      // Rotation: the new connection holds the whole state; the old one can go.
      const old = this.current;
      this.current = connection;
      this.candidate = undefined;
      if (old !== undefined) this.retire(old);
      this.armKeepalive();
    }
    connection.synced = true;
    const changed = this.flags.replace(flags, evaluators, since);
    const previous = this.status;
    this.status = "READY";
    this.attempt = 0;
    this.clearTimer("grace");
    this.scheduleRotation(this.rotationDelay());
    if (this.initial !== undefined) {
      this.settleInitial();
      return;
    }
    if (previous !== "READY") this.listener.ready();
    if (changed.length > 0) this.listener.changed(changed);
  }

  private lost(connection: Connection): void {
    if (connection.retired || this.closed) return;
    connection.retired = true;
    this.detach(connection);
    const status = connection.httpStatus;
    if (connection.tokenRefused && status !== undefined) return this.fatal(new AuthenticationRefused(status));
    if (status !== undefined) this.logger.warn(`the WebSocket handshake was answered ${status}; retrying`);
    if (connection === this.candidate) {
      this.candidate = undefined;
      this.scheduleRotation(backoffDelay(this.attempt + 3, this.options.backoff));
      return;
    }
    if (connection !== this.current) return;
    this.clearTimer("keepalive");
    this.clearTimer("pong");
    if (this.initial !== undefined && this.fallback()) {
      // Serving what the fallback loaded; the connection is what is missing, so STALE after READY.
      this.status = "READY";
      this.settleInitial();
      setTimeout(() => this.goStale("serving cached flags: the service is unreachable"), 0);
    } else {
      this.goStale("connection to the flag service lost");
    }
    if (this.candidate !== undefined) {
      // A replacement is already connecting: it is the reconnect.
      this.current = this.candidate;
      this.candidate = undefined;
      return;
    }
    this.current = undefined;
    this.setTimer("reconnect", backoffDelay(this.attempt++, this.options.backoff), () => {
      this.current = this.open();
    });
  }

  private goStale(message: string): void {
    if (this.closed || this.status !== "READY") return;
    this.status = "STALE";
    this.listener.stale(message);
    this.setTimer("grace", this.graceMs, () => {
      this.status = "ERROR";
      this.listener.error(`${message}; no connection for ${this.graceMs} ms, serving the last-known flags`, false);
    });
  }

  private fatal(error: AuthenticationRefused): void {
    this.status = "FATAL";
    this.logger.error(error.message);
    if (this.initial !== undefined) this.initialError = error;
    else this.listener.error(error.message, true);
    this.close();
  }

  /** Why a pending start() fails, when it is more than "closed". */
  private initialError: Error | undefined;

  private settleInitial(error?: Error): void {
    const initial = this.initial;
    if (initial === undefined) return;
    this.initial = undefined;
    this.clearTimer("init");
    if (error === undefined) initial.resolve();
    else initial.reject(this.initialError ?? error);
  }

  private armKeepalive(): void {
    this.clearTimer("pong");
    this.setTimer("keepalive", this.options.keepaliveMs ?? 5 * 60_000, () => {
      const connection = this.current;
      if (connection === undefined) return;
      try {
        connection.socket.send(JSON.stringify({ action: "ping" }));
      } catch {
        // A socket that cannot send is about to report its close.
      }
      this.setTimer("pong", this.options.pongTimeoutMs ?? 10_000, () => {
        this.logger.warn("no answer to a keep-alive ping: treating the connection as lost");
        // Code 4000: a private-use close code; the socket may never complete the close handshake.
        try {
          connection.socket.close(4000);
        } catch {
          // Gone either way.
        }
        this.lost(connection);
      });
    });
  }

  private rotationDelay(): number {
    const age = this.options.maxConnectionAgeMs ?? 110 * 60_000;
    return age * (0.9 + 0.1 * Math.random());
  }

  private scheduleRotation(delayMs: number): void {
    this.setTimer("rotate", delayMs, () => {
      if (this.closed || this.candidate !== undefined || this.current === undefined) return;
      this.candidate = this.open();
    });
  }

  /** Gives up on a connection attempt: lost now (reconnect scheduled), its socket closed. */
  private abandon(connection: Connection): void {
    this.lost(connection);
    try {
      connection.socket.close();
    } catch {
      // Gone either way.
    }
  }

  private retire(connection: Connection, code = 1000): void {
    connection.retired = true;
    this.detach(connection);
    try {
      connection.socket.close(code);
    } catch {
      // Closing a socket that never opened can throw in some implementations; it is gone either way.
    }
  }

  private detach(connection: Connection): void {
    clearTimeout(connection.handshakeTimer);
    const { socket } = connection;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Keep swallowing errors: an unhandled 'error' would crash a Node process.
    socket.onerror = () => {};
  }

  private setTimer(name: Parameters<FlagSync["clearTimer"]>[0], delayMs: number, run: () => void): void {
    this.clearTimer(name);
    if (this.closed) return;
    this.timers.set(
      name,
      unref(
        setTimeout(() => {
          this.timers.delete(name);
          run();
        }, delayMs),
      ),
    );
  }

  private clearTimer(name: "reconnect" | "grace" | "init" | "keepalive" | "pong" | "rotate"): void {
    const timer = this.timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(name);
  }
}
