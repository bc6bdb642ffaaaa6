import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

interface Declared {
  type: string;
  default?: unknown;
}

describe("Pulumi.yaml configuration declarations", () => {
  const project = parse(fs.readFileSync(path.resolve(__dirname, "../../Pulumi.yaml"), "utf8")) as {
    name: string;
    config: Record<string, Declared>;
  };

  it("declares every non-secret key of the contract with its type and default", () => {
    assert.deepEqual(Object.fromEntries(Object.entries(project.config).map(([key, d]) => [key, [d.type, d.default]])), {
      allowFlagDeletion: ["boolean", true],
      alarmEmail: ["string", ""],
      logRetentionDays: ["integer", 30],
      executionLogLevel: ["string", "ERROR"],
      createApiGatewayAccountRole: ["boolean", false],
      auditRetentionDays: ["integer", 365],
      createConfigRecorder: ["boolean", false],
      corsOrigins: ["array", []],
      ofrepRateLimit: ["integer", 1000],
      rateLimit: ["integer", 3000],
      eventStreamConcurrency: ["integer", 100],
      publicBucketsAllowed: ["array", []],
      autoRemediate: ["boolean", true],
      eventBusName: ["string", "default"],
    });
  });

  it("gives every declared key a default, so no stack is forced to set it", () => {
    for (const [key, declared] of Object.entries(project.config)) assert.ok("default" in declared, key);
  });

  it("does not declare the secrets apiTokens and webhooks (a plaintext default would defeat them)", () => {
    assert.equal("apiTokens" in project.config, false);
    assert.equal("webhooks" in project.config, false);
  });
});
