import { strict as assert } from "node:assert";
import { backoffDelay } from "../src/backoff";

describe("backoffDelay (exponential, capped, full jitter)", () => {
  it("doubles the ceiling each attempt up to the cap", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map((attempt) => backoffDelay(attempt, {}, () => 0.999999));
    assert.deepEqual(ceilings, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999, 29999]);
  });

  it("spreads delays over the whole range from 0 (full jitter), not around the ceiling", () => {
    const samples = Array.from({ length: 2000 }, () => backoffDelay(3, { initialMs: 100, maxMs: 10_000 }));
    assert.ok(samples.every((d) => d >= 0 && d < 800));
    assert.ok(
      samples.some((d) => d < 80),
      "some retries come almost at once",
    );
    assert.ok(
      samples.some((d) => d > 720),
      "some wait nearly the ceiling",
    );
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    assert.ok(mean > 330 && mean < 470, `mean ${mean} is about half the ceiling`);
  });

  it("honours a custom start and cap", () => {
    assert.equal(
      backoffDelay(0, { initialMs: 50, maxMs: 60 }, () => 0.5),
      25,
    );
    assert.equal(
      backoffDelay(10, { initialMs: 50, maxMs: 60 }, () => 0.5),
      30,
    );
  });
});
