import { AsyncLocalStorage } from "node:async_hooks";
import * as http from "node:http";

/**
 * An AWS API request a function's artifact sent, captured on the wire (Node's ClientRequest, under
 * the SDK's HTTP handler), with the function whose invocation sent it.
 */
export interface WireCall {
  functionName: string;
  method: string;
  /** `protocol//host[:port]path`, as sent (to a local stand-in). */
  url: string;
  headers: Record<string, string>;
  body: string;
  /** What the test gave the function in place of the program's values: [local value, program value]. */
  substitutions: Array<[string, string]>;
}

interface Invocation {
  functionName: string;
  substitutions: Array<[string, string]>;
  calls: WireCall[];
}

const current = new AsyncLocalStorage<Invocation>();
const invocations: Invocation[] = [];
let installed = false;

/** Patches ClientRequest once: every request ended inside an invocation is recorded against it. */
function install(): void {
  if (installed) return;
  installed = true;
  const proto = http.ClientRequest.prototype as http.ClientRequest & { __chunks?: Buffer[] };
  const write = proto.write;
  const end = proto.end;
  const collect = (request: { __chunks?: Buffer[] }, chunk: unknown) => {
    if (typeof chunk === "string" || chunk instanceof Uint8Array) (request.__chunks ??= []).push(Buffer.from(chunk));
  };
  proto.write = function (this: typeof proto, chunk: unknown, ...rest: unknown[]) {
    if (current.getStore() !== undefined) collect(this, chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof proto.write;
  proto.end = function (this: typeof proto, chunk?: unknown, ...rest: unknown[]) {
    const invocation = current.getStore();
    if (invocation !== undefined) {
      if (typeof chunk !== "function") collect(this, chunk);
      const headers = Object.fromEntries(
        Object.entries(this.getHeaders()).map(([name, value]) => [name.toLowerCase(), String(value)]),
      );
      invocation.calls.push({
        functionName: invocation.functionName,
        method: this.method,
        url: `${this.protocol}//${String(headers.host ?? this.host)}${this.path}`,
        headers,
        body: Buffer.concat(this.__chunks ?? []).toString("utf8"),
        substitutions: invocation.substitutions,
      });
    }
    return (end as (...args: unknown[]) => unknown).call(this, chunk, ...rest);
  } as typeof proto.end;
}

/**
 * Runs one invocation of `functionName`, recording the AWS requests it sends. `substitutions`
 * map the local values the test configured (table names, endpoints) back to the program's.
 */
export async function recordInvocation<R>(
  functionName: string,
  substitutions: Array<[string, string]>,
  run: () => Promise<R>,
): Promise<{ result: R; calls: WireCall[] }> {
  install();
  const invocation: Invocation = { functionName, substitutions, calls: [] };
  invocations.push(invocation);
  const result = await current.run(invocation, run);
  return { result, calls: invocation.calls };
}

/** Every invocation recorded in this process so far, with its calls. */
export function recordedInvocations(): readonly Invocation[] {
  return invocations;
}
