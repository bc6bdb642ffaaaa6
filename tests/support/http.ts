/** A small JSON client for the local runtime's REST API. */
export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
}

export interface RequestOptions {
  /** Sent as JSON unless it is already a string. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** A client for `baseUrl` that sends `Authorization: Bearer <token>` unless the request sets its own. */
export function client(baseUrl: string, token?: string) {
  const auth: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  return async (method: string, path: string, options: RequestOptions = {}): Promise<HttpResult> => {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body);
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      body,
      headers: { "Content-Type": "application/json", ...auth, ...options.headers },
    });
    const text = await response.text();
    let parsed: unknown = text;
    if (text.length > 0 && response.headers.get("content-type")?.includes("json")) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: text.length > 0 ? parsed : undefined };
  };
}

export type Client = ReturnType<typeof client>;
