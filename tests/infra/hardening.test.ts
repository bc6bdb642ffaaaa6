import { strict as assert } from "node:assert";
import { roleNamed, roleStatements, simulate, trustPolicy } from "../support/iam";
import { asList, statementsOf } from "../support/policies";
import { ACCOUNT, ofType, type RecordedResource, runProgram } from "../support/pulumiMocks";
import { TEST_WEBHOOKS } from "../support/webhooks";
import { serviceCalls } from "../support/serviceCalls";

/**
 * Rules over the whole mocked program, so resources that later components add are held to them
 * without anyone remembering to write a test.
 */
describe("whole-program hardening (Pulumi mocks)", () => {
  let resources: RecordedResource[];

  before(async () => {
    resources = await runProgram({
      alarmEmail: "oncall@example.com",
      createConfigRecorder: "true",
      createApiGatewayAccountRole: "true",
      // Change events' webhooks too: their queues, parameter and delivery function are hardened alike.
      webhooks: JSON.stringify(TEST_WEBHOOKS),
    });
  });

  describe("least privilege", () => {
    it("attaches no managed policy to any Lambda role, and nothing broad to any role", () => {
      const lambdaRoles = ofType(resources, "aws:lambda/function:Function").map((fn) => fn.inputs.role);
      for (const attachment of ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")) {
        assert.ok(!lambdaRoles.some((arn) => arn.endsWith(`/${attachment.inputs.role}`)), attachment.name);
      }
      for (const attachment of ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")) {
        assert.doesNotMatch(attachment.inputs.policyArn, /FullAccess|PowerUser|AdministratorAccess/);
      }
      for (const role of ofType(resources, "aws:iam/role:Role")) {
        for (const arn of role.inputs.managedPolicyArns ?? []) assert.doesNotMatch(arn, /FullAccess|PowerUser/);
      }
    });

    it("allows no wildcard action in any role policy", () => {
      const policies = ofType(resources, "aws:iam/rolePolicy:RolePolicy");
      assert.ok(policies.length > 0);
      for (const policy of policies) {
        for (const statement of statementsOf(policy)) {
          for (const action of asList(statement.Action)) assert.ok(!action.includes("*"), `${policy.name}: ${action}`);
        }
      }
    });

    it("names exact resource ARNs for every data-plane action", () => {
      // Actions IAM cannot scope to a resource; they list names and read no data.
      const unscopable = ["dynamodb:ListStreams", "xray:PutTraceSegments", "xray:PutTelemetryRecords"];
      const remediation = ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"];
      for (const policy of ofType(resources, "aws:iam/rolePolicy:RolePolicy")) {
        for (const statement of statementsOf(policy)) {
          if (asList(statement.Action).every((action) => unscopable.includes(action))) {
            assert.deepEqual(asList(statement.Resource), ["*"]);
            continue;
          }
          // The compliance remediation fixes whichever bucket turns public, so it may touch any
          // bucket's public access block — in this account only.
          if (asList(statement.Action).every((action) => remediation.includes(action))) {
            assert.deepEqual(asList(statement.Resource), ["arn:aws:s3:::*"]);
            assert.deepEqual(statement.Condition, { StringEquals: { "aws:ResourceAccount": "123456789012" } });
            continue;
          }
          for (const resource of asList(statement.Resource)) {
            // Sanctioned suffix wildcards: a log group's streams (`log-group:NAME:*`), the
            // connections of one WebSocket API stage (`API/STAGE/POST/@connections/*`), the
            // objects under a prefix of one named bucket (`arn:aws:s3:::BUCKET/PREFIX/*`), and the
            // schedules of one EventBridge Scheduler group (`schedule/GROUP/*`, named at run time),
            // or its rollout steps' (`schedule/GROUP/rollout-*`).
            const withoutStreams = resource
              .replace(/(:log-group:[^*:]+):\*$/, "$1")
              .replace(/^(arn:aws:scheduler:[^*]+:schedule\/[^/*]+)\/(rollout-)?\*$/, "$1")
              .replace(/^(arn:aws:s3:::[^*/]+\/[^*]+)\/\*$/, "$1")
              .replace(/^(arn:aws:execute-api:[^*]+\/[^/*]+\/POST\/@connections)\/\*$/, "$1");
            assert.match(withoutStreams, /^arn:aws:[a-z0-9-]+:/, `${policy.name}: ${resource}`);
            assert.ok(!withoutStreams.includes("*"), `${policy.name}: ${resource}`);
          }
        }
      }
    });
  });

  describe("tracing", () => {
    it("traces every function with X-Ray, granting each role the daemon's two writes and no more of X-Ray", () => {
      const functions = ofType(resources, "aws:lambda/function:Function");
      assert.ok(functions.length > 10);
      for (const fn of functions) {
        assert.deepEqual(fn.inputs.tracingConfig, { mode: "Active" }, fn.name);
        const xray = roleStatements(resources, roleNamed(resources, fn.inputs.role))
          .flatMap((statement) => asList(statement.Action))
          .filter((action) => action.startsWith("xray:"));
        assert.deepEqual(xray.sort(), ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], fn.name);
      }
    });
  });

  describe("encryption at rest", () => {
    it("encrypts every DynamoDB table with KMS", () => {
      const tables = ofType(resources, "aws:dynamodb/table:Table");
      assert.ok(tables.length > 0);
      for (const table of tables) assert.equal(table.inputs.serverSideEncryption?.enabled, true, table.name);
    });

    it("encrypts every SNS topic and SQS queue", () => {
      for (const topic of ofType(resources, "aws:sns/topic:Topic")) assert.ok(topic.inputs.kmsMasterKeyId, topic.name);
      for (const queue of ofType(resources, "aws:sqs/queue:Queue")) {
        assert.ok(queue.inputs.sqsManagedSseEnabled === true || queue.inputs.kmsMasterKeyId, queue.name);
      }
    });

    it("stores every SSM parameter holding a secret as a SecureString", () => {
      for (const parameter of ofType(resources, "aws:ssm/parameter:Parameter")) {
        if (/token|secret|key/i.test(parameter.inputs.name)) assert.equal(parameter.inputs.type, "SecureString");
      }
    });
  });

  describe("service roles (confused deputy)", () => {
    const serviceRoles = () =>
      ofType(resources, "aws:iam/role:Role").flatMap((role) =>
        trustPolicy(role)
          .Statement.filter((s) => s.Effect === "Allow" && s.Action === "sts:AssumeRole")
          .flatMap((s) => asList((s.Principal as { Service?: string | string[] } | undefined)?.Service ?? []))
          .map((service) => ({ role, service })),
      );

    it("lets a service assume a role only for this account (aws:SourceAccount, or Firehose's sts:ExternalId)", () => {
      const roles = serviceRoles();
      const services = new Set(roles.map((r) => r.service));
      for (const service of [
        "firehose.amazonaws.com",
        "pipes.amazonaws.com",
        "ssm.amazonaws.com",
        "apigateway.amazonaws.com",
        "config.amazonaws.com",
        "lambda.amazonaws.com",
      ]) {
        assert.ok(services.has(service), `no role trusts ${service}: the check below would prove nothing`);
      }
      for (const { role, service } of roles) {
        const conditions = trustPolicy(role)
          .Statement.map((s) => JSON.stringify(s.Condition ?? {}))
          .join();
        assert.ok(
          conditions.includes(`"aws:SourceAccount":"${ACCOUNT}"`),
          `${role.name} trusts ${service} without aws:SourceAccount`,
        );
        if (service === "firehose.amazonaws.com") {
          assert.ok(
            conditions.includes(`"sts:ExternalId":"${ACCOUNT}"`),
            `${role.name}: Firehose without sts:ExternalId`,
          );
        }
      }
    });

    it("names the resources a role serves (Pipes, SSM Automation, Firehose; Lambda: this account's functions in the region)", () => {
      for (const { role, service } of serviceRoles()) {
        const arnLike = trustPolicy(role).Statement.map(
          (s) => (s.Condition?.ArnLike ?? s.Condition?.ArnLikeIfExists)?.["aws:SourceArn"],
        )[0];
        const expected: Record<string, RegExp> = {
          "pipes.amazonaws.com": /^arn:aws:pipes:eu-west-1:123456789012:pipe\/feature-flags-dev-audit\*$/,
          "ssm.amazonaws.com": /^arn:aws:ssm:eu-west-1:123456789012:automation-execution\/\*$/,
          "firehose.amazonaws.com":
            /^arn:aws:firehose:eu-west-1:123456789012:deliverystream\/feature-flags-dev-audit\*$/,
          "lambda.amazonaws.com": /^arn:aws:lambda:eu-west-1:123456789012:function:\*$/,
        };
        if (expected[service] !== undefined) assert.match(String(arnLike), expected[service], role.name);
      }
    });

    it("has AWS (iam-simulate) let each service assume its role for this account, and refuse it for another", async () => {
      const assumptions = serviceCalls(resources).filter((call) => call.request.action === "sts:AssumeRole");
      assert.ok(
        assumptions.some((call) => !call.allowed),
        "no refused assumption was simulated",
      );
      const wrong: string[] = [];
      for (const call of assumptions) {
        const decision = await simulate(call.request, { resource: call.resource });
        if ((decision === "Allowed") !== call.allowed) wrong.push(`${call.what}: ${decision}`);
      }
      assert.deepEqual(wrong, []);
    });
  });

  describe("buckets", () => {
    const buckets = () =>
      ofType(resources, "aws:s3/bucket:Bucket").concat(ofType(resources, "aws:s3/bucketV2:BucketV2"));
    const forBucket = (type: string, bucket: RecordedResource) =>
      ofType(resources, type).filter((r) => r.inputs.bucket === `${bucket.name}-id` || r.inputs.bucket === bucket.name);

    it("blocks every kind of public access on every bucket", () => {
      for (const bucket of buckets()) {
        const [block] = forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket);
        assert.ok(block, `${bucket.name} has no public access block`);
        for (const setting of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
          assert.equal(block.inputs[setting], true, `${bucket.name}.${setting}`);
        }
      }
    });

    it("refuses plain-HTTP access to every bucket", () => {
      for (const bucket of buckets()) {
        const [policy] = forBucket("aws:s3/bucketPolicy:BucketPolicy", bucket);
        assert.ok(policy, `${bucket.name} has no bucket policy`);
        const denyInsecure = statementsOf(policy).find(
          (s) => s.Effect === "Deny" && JSON.stringify(s.Condition ?? {}).includes('"aws:SecureTransport":"false"'),
        );
        assert.ok(denyInsecure, `${bucket.name} allows plain HTTP`);
      }
    });
  });
});
