/* global require, process, module */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS reporter, loaded by mocha before ts-node */
/**
 * Mocha's spec output plus where the run's time went: wall time per test file (its top-level
 * suites, hooks included), every hook and test of 200 ms or more, and the time before the first
 * test (loading ts-node and every file). Written as JSON to $TIMING_OUT (default timing.json):
 *
 *   TIMING_OUT=/tmp/timing.json npx mocha --reporter tests/support/timingReporter.cjs 'tests/**\/*.test.ts'
 */
const fs = require("node:fs");
const path = require("node:path");
// Mocha resolves a reporter path from the project, not mocha's own require paths.
const Mocha = require(path.join(process.cwd(), "node_modules", "mocha"));

const { EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_HOOK_BEGIN, EVENT_HOOK_END } =
  Mocha.Runner.constants;
const SLOW_MS = 200;

function fileOf(runnable) {
  let current = runnable;
  while (current !== undefined && current.file === undefined && current.parent !== undefined) current = current.parent;
  return current?.file === undefined ? "(root)" : path.relative(process.cwd(), current.file);
}

class TimingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const files = new Map();
    const started = new Map();
    const hooks = [];
    let runStart = 0;
    let beforeFirstTestMs = 0;
    runner.on(EVENT_RUN_BEGIN, () => {
      runStart = Date.now();
      beforeFirstTestMs = Math.round(process.uptime() * 1000);
    });
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      if (!started.has(suite)) return;
      const file = fileOf(suite);
      files.set(file, (files.get(file) ?? 0) + Date.now() - started.get(suite));
    });
    runner.on(EVENT_HOOK_BEGIN, (hook) => started.set(hook, Date.now()));
    runner.on(EVENT_HOOK_END, (hook) => {
      const ms = Date.now() - started.get(hook);
      if (ms >= SLOW_MS) hooks.push({ file: fileOf(hook), title: hook.fullTitle(), ms });
    });
    runner.once(EVENT_RUN_END, () => {
      const tests = [];
      const walk = (suite) => {
        for (const test of suite.tests) {
          if ((test.duration ?? 0) >= SLOW_MS)
            tests.push({ file: fileOf(test), title: test.fullTitle(), ms: test.duration });
        }
        suite.suites.forEach(walk);
      };
      walk(runner.suite);
      const byTime = (a, b) => b.ms - a.ms;
      const report = {
        beforeFirstTestMs,
        runMs: Date.now() - runStart,
        files: [...files].map(([file, ms]) => ({ file, ms })).sort(byTime),
        hooks: hooks.sort(byTime),
        tests: tests.sort(byTime),
      };
      fs.writeFileSync(process.env.TIMING_OUT ?? "timing.json", `${JSON.stringify(report, null, 1)}\n`);
    });
  }
}

module.exports = TimingReporter;
