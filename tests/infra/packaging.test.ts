import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleSerializedText, narrowRequires } from "../../components/packaging";

/** Serialized text shaped as Pulumi writes it: a package bound once, then read by name. */
const serialized = (body: string) =>
  [
    'const lib_dynamodb_1 = require("@aws-sdk/lib-dynamodb/dist-cjs/index.js");',
    'const node_util_1 = require("util");',
    body,
  ].join("\n");

describe("function packaging (esbuild over the serialized callback)", () => {
  it("points a package read only by name at just those names, by package name", () => {
    const text = narrowRequires(
      serialized("exports.handler = () => [lib_dynamodb_1.PutCommand, lib_dynamodb_1\n    .GetCommand, node_util_1];"),
    );
    assert.match(text, /require\("pick:@aws-sdk\/lib-dynamodb\?GetCommand,PutCommand"\)/);
    assert.match(text, /require\("util"\)/, "built-ins stay as they are");
  });

  it("keeps the whole package where it is used any other way", () => {
    for (const use of ["f(lib_dynamodb_1)", "lib_dynamodb_1[name]", "({ ...lib_dynamodb_1 })"]) {
      const text = narrowRequires(serialized(`exports.handler = (name) => [lib_dynamodb_1.PutCommand, ${use}];`));
      assert.match(text, /require\("@aws-sdk\/lib-dynamodb\/dist-cjs\/index.js"\)/, use);
    }
  });

  it("bundles only the DynamoDB commands a handler uses, and the bundle runs on its own", async () => {
    const code = await bundleSerializedText(
      serialized(
        'exports.handler = async () => new lib_dynamodb_1.GetCommand({ TableName: "t", Key: { k: 1 } }).input;',
      ),
    );
    assert.doesNotMatch(code, /CreateBackup|BatchWriteItem|DescribeGlobalTable/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-packaging-"));
    try {
      // Outside the project: nothing resolves but Node's built-ins.
      fs.writeFileSync(path.join(dir, "__index.js"), code);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundled CommonJS file
      const { handler } = require(path.join(dir, "__index.js")) as { handler: () => Promise<unknown> };
      assert.deepEqual(await handler(), { TableName: "t", Key: { k: 1 } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
