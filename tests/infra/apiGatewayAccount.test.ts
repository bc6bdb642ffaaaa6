import { strict as assert } from "node:assert";
import { PUSH_TO_CLOUDWATCH_POLICY } from "../../components/apiGatewayAccount";
import { cloudWatchRoleProblem, preflight } from "../../components/apiGatewayAccountCheck";
import { roleArn, simulate, trustPolicy } from "../support/iam";
import { standInEndpoint } from "../support/standInEndpoint";
import { ACCOUNT, ofType, type RecordedResource, runProgram, single } from "../support/pulumiMocks";

const ROLE = "aws:iam/role:Role";
const ACCOUNT_SETTINGS = "aws:apigateway/account:Account";
const checksOf = (resources: RecordedResource[]) =>
  ofType(resources, "pulumi-nodejs:dynamic:Resource").filter((r) => r.name.endsWith("-apigateway-account-check"));

describe("API Gateway's account CloudWatch role (stage logging's prerequisite)", () => {
  describe("by default: a named prerequisite, checked at preview", () => {
    let resources: RecordedResource[];
    before(async () => {
      resources = await runProgram();
    });

    it("creates no account-wide role or setting, and registers the check for the stack's region", () => {
      assert.deepEqual(ofType(resources, ACCOUNT_SETTINGS), []);
      assert.deepEqual(
        ofType(resources, ROLE).filter((r) => r.name.endsWith("-apigateway-cloudwatch")),
        [],
      );
      const [check] = checksOf(resources);
      assert.ok(check, "the pre-flight check is registered");
      assert.equal(check.inputs.region, "eu-west-1");
    });

    it("tells an account without the role what to set, and passes one with it", () => {
      const problem = cloudWatchRoleProblem(undefined, "eu-west-1");
      assert.match(problem ?? "", /API Gateway in eu-west-1 has no CloudWatch Logs role/);
      assert.match(problem ?? "", /pulumi config set createApiGatewayAccountRole true/);
      assert.equal(cloudWatchRoleProblem("", "eu-west-1"), problem);
      assert.equal(cloudWatchRoleProblem(roleArn("their-apigateway-logs"), "eu-west-1"), undefined);
    });
  });

  describe("the pre-flight against API Gateway's GET /account", () => {
    let answer: { status: number; body: object };
    const served = standInEndpoint("AWS_ENDPOINT_URL_API_GATEWAY", (_request, response) => {
      response.setHeader("Content-Type", "application/json");
      response.writeHead(answer.status).end(JSON.stringify(answer.body));
    });

    const news = { region: "eu-west-1" };

    it("fails preview on createApiGatewayAccountRole when the account has no role", async () => {
      answer = { status: 200, body: { throttleSettings: { rateLimit: 10000, burstLimit: 5000 } } };
      served.requests = [];
      const result = await preflight({}, news);
      assert.deepEqual(served.requests, ["GET /account"]);
      assert.equal(result.failures?.[0].property, "createApiGatewayAccountRole");
      assert.match(result.failures?.[0].reason ?? "", /createApiGatewayAccountRole true/);
    });

    it("passes when the account has one", async () => {
      answer = { status: 200, body: { cloudwatchRoleArn: roleArn("apigateway-logs") } };
      assert.equal((await preflight(undefined, news)).failures, undefined);
    });

    it("names the permission it needs when it cannot read the account settings", async () => {
      answer = { status: 403, body: { message: "no" } };
      const result = await preflight({}, news);
      assert.match(result.failures?.[0].reason ?? "", /apigateway:GET on arn:aws:apigateway:eu-west-1::\/account/);
    });

    it("checks only when the stack is created", async () => {
      answer = { status: 200, body: {} };
      served.requests = [];
      assert.equal((await preflight(news, news)).failures, undefined);
      assert.deepEqual(served.requests, []);
    });
  });

  describe("with createApiGatewayAccountRole: created and set", () => {
    let resources: RecordedResource[];
    let role: RecordedResource;
    before(async () => {
      resources = await runProgram({ createApiGatewayAccountRole: "true" });
      role = single(resources, ROLE, "-apigateway-cloudwatch");
    });

    it("sets the account's CloudWatch role to a role with AWS's push-to-CloudWatch service-role policy only", () => {
      assert.equal(single(resources, ACCOUNT_SETTINGS).inputs.cloudwatchRoleArn, roleArn(role.name));
      const attachments = ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter(
        (a) => a.inputs.role === role.name,
      );
      assert.deepEqual(
        attachments.map((a) => a.inputs.policyArn),
        [PUSH_TO_CLOUDWATCH_POLICY],
      );
      assert.match(PUSH_TO_CLOUDWATCH_POLICY, /^arn:aws:iam::aws:policy\/service-role\//);
      assert.deepEqual(
        ofType(resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === role.name),
        [],
      );
      assert.deepEqual(checksOf(resources), [], "nothing to check when the stack sets the role");
    });

    it("has AWS (iam-simulate) let API Gateway assume it for this account only", async () => {
      const assume = (context: Record<string, string>) =>
        simulate(
          { principal: "apigateway.amazonaws.com", action: "sts:AssumeRole", resource: roleArn(role.name), context },
          { resource: trustPolicy(role) },
        );
      assert.equal(await assume({ "aws:SourceAccount": ACCOUNT }), "Allowed");
      assert.equal(await assume({}), "Allowed");
      assert.notEqual(await assume({ "aws:SourceAccount": "210987654321" }), "Allowed");
      const lambda = await simulate(
        { principal: "lambda.amazonaws.com", action: "sts:AssumeRole", resource: roleArn(role.name) },
        { resource: trustPolicy(role) },
      );
      assert.notEqual(lambda, "Allowed");
    });
  });
});
