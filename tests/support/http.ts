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

export function client(baseUrl: string) {
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
      headers: { "Content-Type": "application/json", ...options.headers },
    });
    const text = await response.text();
    let parsed: unknown = text;
    if (text.length > 0 && response.headers.get("content-type")?.includes("json")) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: text.length > 0 ? parsed : undefined };
  };
}

export type Client = ReturnType<typeof client>;
