import { strict as assert } from "node:assert";
import { configRecorderProblem, preflight, type RecorderState } from "../../components/configRecorderCheck";
import { ofType, runProgram } from "../support/pulumiMocks";
import { standInEndpoint } from "../support/standInEndpoint";

const recorder = (overrides: Partial<RecorderState> = {}): RecorderState => ({
  name: "default",
  recording: true,
  allSupported: false,
  resourceTypes: ["AWS::S3::Bucket"],
  excludedResourceTypes: [],
  ...overrides,
});

describe("Config recorder pre-flight (what `pulumi preview` says before deploying the rule)", () => {
  it("tells an account without a recorder to set createConfigRecorder true", () => {
    const problem = configRecorderProblem([], false, "eu-west-1");
    assert.match(problem ?? "", /no configuration recorder in eu-west-1/);
    assert.match(problem ?? "", /pulumi config set createConfigRecorder true/);
  });

  it("refuses a recorder that does not record S3 buckets, naming it and the fix", () => {
    const problem = configRecorderProblem([recorder({ resourceTypes: ["AWS::EC2::Instance"] })], false, "eu-west-1");
    assert.match(problem ?? "", /'default' .* does not record AWS::S3::Bucket/);
    const excluded = recorder({ allSupported: true, resourceTypes: [], excludedResourceTypes: ["AWS::S3::Bucket"] });
    assert.match(configRecorderProblem([excluded], false, "eu-west-1") ?? "", /does not record AWS::S3::Bucket/);
  });

  it("refuses a stopped recorder, with the command that starts it", () => {
    const problem = configRecorderProblem([recorder({ recording: false })], false, "eu-west-1");
    assert.match(problem ?? "", /start-configuration-recorder --configuration-recorder-name default/);
  });

  it("accepts a started recorder that records S3 buckets, listed or as all supported types", () => {
    assert.equal(configRecorderProblem([recorder()], false, "eu-west-1"), undefined);
    assert.equal(
      configRecorderProblem([recorder({ allSupported: true, resourceTypes: [] })], false, "eu-west-1"),
      undefined,
    );
  });

  it("refuses createConfigRecorder where a recorder exists (AWS allows one per region)", () => {
    assert.match(configRecorderProblem([recorder()], true, "eu-west-1") ?? "", /createConfigRecorder false/);
    assert.equal(configRecorderProblem([], true, "eu-west-1"), undefined);
  });

  it("is part of the program, checking the stack's region with its createConfigRecorder", async () => {
    const resources = await runProgram({ createConfigRecorder: "true" });
    const [check] = ofType(resources, "pulumi-nodejs:dynamic:Resource").filter((r) =>
      r.name.endsWith("-config-recorder-check"),
    );
    assert.ok(check, "the pre-flight check is registered");
    assert.equal(check.inputs.region, "eu-west-1");
    assert.equal(check.inputs.createConfigRecorder, true);
  });
});

describe("Config recorder pre-flight against the Config API (a stand-in endpoint)", () => {
  let answer: { status: number; recorders: object[]; statuses: object[] };
  const served = standInEndpoint("AWS_ENDPOINT_URL_CONFIG_SERVICE", (request, response) => {
    const target = String(request.headers["x-amz-target"]);
    response.setHeader("Content-Type", "application/x-amz-json-1.1");
    if (answer.status !== 200) {
      response.writeHead(answer.status).end(JSON.stringify({ __type: "AccessDeniedException", message: "no" }));
    } else if (target.endsWith(".DescribeConfigurationRecorders")) {
      response.end(JSON.stringify({ ConfigurationRecorders: answer.recorders }));
    } else {
      response.end(JSON.stringify({ ConfigurationRecordersStatus: answer.statuses }));
    }
  });

  const news = { region: "eu-west-1", createConfigRecorder: false };

  it("fails preview on createConfigRecorder when the account has no recorder", async () => {
    answer = { status: 200, recorders: [], statuses: [] };
    const result = await preflight({}, news);
    assert.equal(result.failures?.[0].property, "createConfigRecorder");
    assert.match(result.failures?.[0].reason ?? "", /createConfigRecorder true/);
  });

  it("passes with a started recorder of S3 buckets", async () => {
    answer = {
      status: 200,
      recorders: [{ name: "default", recordingGroup: { allSupported: false, resourceTypes: ["AWS::S3::Bucket"] } }],
      statuses: [{ name: "default", recording: true }],
    };
    assert.equal((await preflight(undefined, news)).failures, undefined);
  });

  it("names the permissions it needs when it cannot read the recorders", async () => {
    answer = { status: 400, recorders: [], statuses: [] };
    const result = await preflight({}, news);
    assert.match(result.failures?.[0].reason ?? "", /config:DescribeConfigurationRecorders/);
  });

  it("checks only when the stack is created (its own recorder must not trip it later)", async () => {
    answer = { status: 200, recorders: [], statuses: [] };
    served.requests = [];
    assert.equal((await preflight(news, news)).failures, undefined);
    assert.deepEqual(served.requests, []);
  });
});
