#!/usr/bin/env node
/* global require, process */
"use strict";
// The package's `prepare` script compiles src/ to dist/ during `npm ci`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("../dist/main.js")
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
