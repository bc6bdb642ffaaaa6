import { strict as assert } from "node:assert";
import * as path from "node:path";
import { resolveLocalConfig, tokenLines } from "../../local/config";
import { ADMIN_TOKEN, CLIENT_TOKEN, READ_TOKEN } from "../support/tokens";

const PROJECT_ROOT = path.resolve(__dirname, "../..");
const resolve = (env: NodeJS.ProcessEnv) => resolveLocalConfig({ FLAGS_IN_MEMORY: "1", ...env }, PROJECT_ROOT);

describe("local tokens: FLAGS_CLIENT_TOKEN (a client key, scope evaluate)", () => {
  it("generates three distinct tokens when none is set, and prints each once with its scopes", () => {
    const config = resolve({});
    assert.deepEqual(
      config.tokens.map(({ id, scopes }) => [id, scopes]),
      [
        ["admin", ["read", "write"]],
        ["reader", ["read"]],
        ["client", ["evaluate"]],
      ],
    );
    assert.equal(new Set(config.tokens.map((t) => t.token)).size, 3);
    assert.deepEqual(config.generatedTokenIds, ["admin", "reader", "client"]);
    const client = config.tokens[2].token;
    assert.deepEqual(
      tokenLines(config)[2],
      `token client (evaluate): ${client}  (generated; set FLAGS_CLIENT_TOKEN to keep one)`,
    );
  });

  it("takes FLAGS_CLIENT_TOKEN when set, and never prints it", () => {
    const config = resolve({
      FLAGS_ADMIN_TOKEN: ADMIN_TOKEN,
      FLAGS_READ_TOKEN: READ_TOKEN,
      FLAGS_CLIENT_TOKEN: CLIENT_TOKEN,
    });
    assert.equal(config.tokens.find((t) => t.id === "client")?.token, CLIENT_TOKEN);
    assert.deepEqual(config.generatedTokenIds, []);
    const lines = tokenLines(config);
    assert.ok(lines.includes("token client (evaluate): from FLAGS_CLIENT_TOKEN"), lines.join("\n"));
    assert.ok(!lines.join("\n").includes(CLIENT_TOKEN));
  });

  it("refuses a short client token, and one equal to another token, naming the variables", () => {
    assert.throws(() => resolve({ FLAGS_CLIENT_TOKEN: "short" }), /FLAGS_CLIENT_TOKEN must be at least 24 characters/);
    assert.throws(
      () => resolve({ FLAGS_ADMIN_TOKEN: ADMIN_TOKEN, FLAGS_CLIENT_TOKEN: ADMIN_TOKEN }),
      /FLAGS_ADMIN_TOKEN and FLAGS_CLIENT_TOKEN must differ/,
    );
    assert.throws(
      () => resolve({ FLAGS_READ_TOKEN: READ_TOKEN, FLAGS_CLIENT_TOKEN: READ_TOKEN }),
      /FLAGS_READ_TOKEN and FLAGS_CLIENT_TOKEN must differ/,
    );
  });
});
