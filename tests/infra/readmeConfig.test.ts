import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

/** The stack config keys the program reads: `config.get*("key")`, and `apiTokens` from the runtime. */
function keysIndexReads(): string[] {
  const source = fs.readFileSync(path.join(root, "index.ts"), "utf8");
  const keys = [...source.matchAll(/config\.(?:get|require)\w*(?:<[^>]*>)?\("([A-Za-z]+)"\)/g)].map((m) => m[1]);
  if (source.includes("getConfig(`${pulumi.getProject()}:apiTokens`)")) keys.push("apiTokens");
  return [...new Set(keys)].sort();
}

/** The keys of the README's configuration table (rows starting with a backquoted key). */
function keysReadmeLists(): string[] {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("| Key "), readme.indexOf("**Switch deletion off**"));
  return [...table.matchAll(/^\| `([A-Za-z]+)`/gm)].map((m) => m[1]).sort();
}

describe("README's configuration table", () => {
  it("lists exactly the config keys index.ts reads", () => {
    const read = keysIndexReads();
    assert.ok(read.length >= 14, `found only ${read.join(", ")}`);
    assert.deepEqual(keysReadmeLists(), read);
  });
});
