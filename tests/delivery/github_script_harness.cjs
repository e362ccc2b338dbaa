// Runs an actions/github-script body against a fake `github` client and prints the calls it made.
// Usage: node github_script_harness.cjs SCRIPT_FILE EXISTING_COMMENTS_JSON
"use strict";
const fs = require("node:fs");

async function main() {
  const [scriptFile, commentsJson] = process.argv.slice(2);
  const existing = JSON.parse(commentsJson);
  const calls = [];
  const github = {
    paginate: async (fn, params) => { calls.push(["paginate", params]); return existing; },
    rest: {
      issues: {
        listComments: () => { throw new Error("listComments must go through paginate"); },
        createComment: async (p) => { calls.push(["createComment", p]); },
        updateComment: async (p) => { calls.push(["updateComment", p]); },
      },
    },
  };
  const context = { repo: { owner: "contoso", repo: "bc-sales" }, payload: { pull_request: { number: 7 } } };
  const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
  const body = fs.readFileSync(scriptFile, "utf8");
  await new AsyncFunction("github", "context", "core", "require", body)(github, context, {}, require);
  process.stdout.write(JSON.stringify(calls) + "\n");
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
