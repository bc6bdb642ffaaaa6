/**
 * CloudWatch Logs' JSON filter-pattern syntax, as much of it as the program's patterns use:
 * `{ <expr> }` with `&&`, `||`, parentheses, `$.a.b` selectors, `=`/`!=` against quoted strings
 * (with `*` wildcards) or numbers, and `EXISTS`/`NOT EXISTS`. No npm package implements it.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 *
 * A comparison on a field the event lacks is false whatever the operator; the program's patterns
 * pair `!=` with `NOT EXISTS` so that they mean the same under either reading of that case.
 */
type Node =
  | { kind: "or" | "and"; left: Node; right: Node }
  | { kind: "compare"; path: string[]; op: "=" | "!="; value: string | number }
  | { kind: "exists"; path: string[]; exists: boolean };

const TOKEN =
  /\s*(\(|\)|&&|\|\||!=|=|NOT EXISTS|EXISTS|"(?:[^"\\]|\\.)*"|\$(?:\.[A-Za-z0-9_-]+|\[\d+\])+|-?\d+(?:\.\d+)?|[^\s()&|=!"]+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (match === null) throw new Error(`filter pattern: cannot read '${text.slice(at)}'`);
    tokens.push(match[1]);
  }
  return tokens;
}

function parse(pattern: string): Node {
  const body = /^\s*\{(.*)\}\s*$/s.exec(pattern);
  if (body === null) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const tokens = tokenize(body[1]);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (token: string) => {
    if (next() !== token) throw new Error(`filter pattern: expected ${token} at token ${i} of ${pattern}`);
  };
  const selector = (token: string): string[] =>
    [...token.slice(1).matchAll(/\.([A-Za-z0-9_-]+)|\[(\d+)\]/g)].map((m) => m[1] ?? m[2]);
  const primary = (): Node => {
    const token = next();
    if (token === "(") {
      const node = or();
      expect(")");
      return node;
    }
    if (token === undefined || !token.startsWith("$"))
      throw new Error(`filter pattern: expected a selector in ${pattern}`);
    const path = selector(token);
    const op = next();
    if (op === "EXISTS" || op === "NOT EXISTS") return { kind: "exists", path, exists: op === "EXISTS" };
    if (op !== "=" && op !== "!=") throw new Error(`filter pattern: operator ${op} is not supported here`);
    const raw = next();
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : /^-?\d/.test(raw) ? Number(raw) : raw;
    return { kind: "compare", path, op, value };
  };
  const and = (): Node => {
    let node = primary();
    while (peek() === "&&") {
      next();
      node = { kind: "and", left: node, right: primary() };
    }
    return node;
  };
  const or = (): Node => {
    let node = and();
    while (peek() === "||") {
      next();
      node = { kind: "or", left: node, right: and() };
    }
    return node;
  };
  const node = or();
  if (i !== tokens.length) throw new Error(`filter pattern: unexpected '${tokens[i]}' in ${pattern}`);
  return node;
}

function select(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const wildcard = (expected: string, actual: string) =>
  new RegExp(
    `^${expected
      .split("*")
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  ).test(actual);

function evaluate(node: Node, event: unknown): boolean {
  switch (node.kind) {
    case "or":
      return evaluate(node.left, event) || evaluate(node.right, event);
    case "and":
      return evaluate(node.left, event) && evaluate(node.right, event);
    case "exists":
      return (select(event, node.path) !== undefined) === node.exists;
    case "compare": {
      const actual = select(event, node.path);
      if (actual === undefined || (typeof actual === "object" && actual !== null)) return false;
      const equal =
        typeof node.value === "number" ? Number(actual) === node.value : wildcard(node.value, String(actual));
      return node.op === "=" ? equal : !equal;
    }
  }
}

/** Whether CloudWatch would count this log line for the pattern. Non-JSON lines never match. */
export function matchesFilter(pattern: string, line: string): boolean {
  const node = parse(pattern);
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return false;
  }
  return evaluate(node, event);
}
