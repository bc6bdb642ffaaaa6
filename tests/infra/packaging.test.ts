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

  it("resolves a client's credentials from Lambda's environment variables, without the rest of the default chain", async () => {
    const code = await bundleSerializedText(
      [
        'const client_dynamodb_1 = require("@aws-sdk/client-dynamodb/dist-cjs/index.js");',
        'exports.handler = async () => new client_dynamodb_1.DynamoDBClient({ region: "eu-west-1" }).config.credentials();',
      ].join("\n"),
    );
    // The SSO, web-identity, INI-file and process providers (and the STS/SSO clients they carry).
    assert.doesNotMatch(code, /AssumeRoleWithWebIdentity|GetRoleCredentials|sso_start_url|credential_process/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flags-packaging-"));
    const saved = { ...process.env };
    try {
      fs.writeFileSync(path.join(dir, "__index.js"), code);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundled CommonJS file
      const { handler } = require(path.join(dir, "__index.js")) as { handler: () => Promise<Record<string, unknown>> };
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: "AKIDLAMBDA",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_SESSION_TOKEN: "session",
      });
      const credentials = await handler();
      assert.equal(credentials.accessKeyId, "AKIDLAMBDA");
      assert.equal(credentials.sessionToken, "session");
    } finally {
      for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
