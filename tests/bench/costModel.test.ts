import { strict as assert } from "node:assert";
import {
  billedMilliseconds,
  costOf,
  goalOf,
  type LambdaUse,
  lambdaCost,
  lambdaDurationMs,
  total,
} from "../../bench/costModel";
import { PRICES, type Prices } from "../../bench/prices";

/** Every unit of every price costs $1: the sums below count units, whatever the list prices are. */
const UNIT_PRICES = Object.fromEntries(
  Object.entries(PRICES).map(([key, price]) => [key, { ...price, usd: 1, per: 1 }]),
) as unknown as Prices;

const FUNCTION: LambdaUse = {
  function: "read",
  invocations: 1,
  durationMs: 20.2,
  memoryMb: 512,
  architecture: "arm64",
};
const near = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);

describe("The cost table's arithmetic (bench/costModel.ts)", () => {
  it("bills Lambda per invocation and per GB-second, the duration rounded up to the millisecond", () => {
    assert.equal(billedMilliseconds(20.2), 21);
    assert.equal(billedMilliseconds(0.1), 1);
    // 1 request + 0.021 s × 0.5 GB.
    near(lambdaCost(FUNCTION, UNIT_PRICES), 1 + 0.021 * 0.5);
    near(lambdaCost({ ...FUNCTION, invocations: 0.25 }, UNIT_PRICES), 0.25 * (1 + 0.021 * 0.5));
    // x86_64 is its own price.
    const x86 = { ...UNIT_PRICES, lambdaX86GbSecond: { ...UNIT_PRICES.lambdaX86GbSecond, usd: 2 } };
    near(lambdaCost({ ...FUNCTION, architecture: "x86_64" }, x86), 1 + 2 * 0.021 * 0.5);
  });

  it("stretches only the CPU time by the function's share of a vCPU (one vCPU at 1,769 MB)", () => {
    near(lambdaDurationMs(10, 4, 256), 6 + (4 * 1769) / 256);
    near(lambdaDurationMs(10, 4, 1769), 10);
    // More memory than one vCPU's worth does not make single-threaded code faster.
    near(lambdaDurationMs(10, 4, 3538), 10);
    // CPU time measured above the wall time (other threads): no negative waiting.
    near(lambdaDurationMs(3, 4, 1769), 4);
  });

  it("rounds each Firehose record up to 5 KB, meters WebSocket messages in 32 KB and Pipe and bus events in 64 KB", () => {
    const gb = 2 ** 30;
    near(costOf({ firehoseRecords: { count: 2, bytes: 100 } }, UNIT_PRICES).Firehose, (2 * 5120) / gb);
    near(costOf({ firehoseRecords: { count: 1, bytes: 5121 } }, UNIT_PRICES).Firehose, 10240 / gb);
    assert.equal(costOf({ webSocketMessages: { count: 3, bytes: 33 * 1024 } }, UNIT_PRICES)["API Gateway"], 6);
    assert.equal(costOf({ pipesEvents: { count: 1, bytes: 64 * 1024 + 1 } }, UNIT_PRICES).Pipes, 2);
    // Change events on the bus, as PutEvents meters them: 64 KB chunks.
    assert.equal(costOf({ busEvents: { count: 3, bytes: 64 * 1024 + 1 } }, UNIT_PRICES).EventBridge, 6);
  });

  it("meters 26 bytes per CloudWatch Logs event on top of its text", () => {
    const logs = costOf(
      {
        logEvents: [
          { count: 2, bytes: 400 },
          { count: 1, bytes: 74 },
        ],
      },
      UNIT_PRICES,
    )["CloudWatch Logs"];
    near(logs * 2 ** 30, 2 * 426 + 100);
  });

  it("adds every service into the total, each once", () => {
    const breakdown = costOf(
      {
        restRequests: 1,
        wafRequests: 1,
        webSocketConnectionMinutes: 60,
        readUnits: 2,
        writeUnits: 3,
        streamsReadRequests: 4,
        s3Puts: 5,
        xrayTraces: 0.05,
      },
      UNIT_PRICES,
    );
    assert.equal(breakdown["API Gateway"], 61);
    assert.equal(breakdown.DynamoDB, 5);
    assert.equal(breakdown["DynamoDB Streams"], 4);
    assert.equal(breakdown.S3, 5);
    near(total(breakdown), 61 + 1 + 5 + 4 + 5 + 0.05);
  });

  it("meets the goal at exactly 1.05 × (API Gateway + WAF + one invocation + one read), and not a cent above", () => {
    const baseline = 1 + 1 + (1 + 0.021 * 0.5) + 1;
    const at = goalOf(1.05 * baseline, { ...FUNCTION, invocations: 3 }, 1, UNIT_PRICES);
    near(at.baseline, baseline);
    assert.equal(at.met, true);
    assert.equal(at.over, 0);
    const above = goalOf(1.05 * baseline + 0.01, FUNCTION, 1, UNIT_PRICES);
    assert.equal(above.met, false);
    near(above.over, 0.01);
  });
});
