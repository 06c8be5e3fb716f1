// Runs inside the build sandbox: compiles one AssemblyScript module with the Flowplane SDK and
// prints one JSON report on stdout:
//   {ok, problems: [{file, line, column, end_line, end_column, message, code, severity}], log}
// usage: node build.mjs <source.ts> <out.wasm> <sdk directory>
// Line and column are 1-based; `file` is "module.ts" for the user's source.
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import asc from "assemblyscript/asc";

const [sourcePath, outPath, sdkPath] = process.argv.slice(2);
const [outFile, sdk] = [resolve(outPath), resolve(sdkPath)];
process.chdir(dirname(resolve(sourcePath))); // diagnostics then name the source by its file name
const source = basename(sourcePath);
const texts = new Map([[source, readFileSync(source, "utf8")]]);
const SEVERITIES = ["info", "info", "warning", "error"];

function sdkText(normalizedPath) {
  // `~lib/flowplane/index.ts` -> <sdk>/flowplane/index.ts
  const relative = normalizedPath.replace(/^~lib\//, "");
  try {
    return readFileSync(join(sdk, relative), "utf8");
  } catch {
    return null;
  }
}

function position(text, offset) {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const problems = [];
function report(diagnostic) {
  const problem = {
    message: diagnostic.message,
    code: `${diagnostic.code < 1000 ? "AS" : "TS"}${diagnostic.code}`,
    severity: SEVERITIES[diagnostic.category] ?? "error",
    file: null,
    line: null,
    column: null,
    end_line: null,
    end_column: null,
  };
  const range = diagnostic.range;
  if (range && range.source) {
    const path = range.source.normalizedPath;
    const user = texts.has(path);
    problem.file = user ? path : path.replace(/^~lib\//, "");
    const text = user ? texts.get(path) : path.startsWith("~lib/flowplane") ? sdkText(path) : null;
    if (text !== null) {
      const start = position(text, range.start);
      const end = position(text, range.end);
      Object.assign(problem, {
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
      });
    }
  }
  problems.push(problem);
}

const output = [];
const stream = { write: (chunk) => output.push(String(chunk)) };
const argv = [
  source,
  "--outFile", outFile,
  "--path", sdk,
  "--lib", join(sdk, "flowplane_runtime.ts"),
  "--runtime", "stub",
  "--use", "abort=~lib/flowplane_runtime/flowplaneAbort",
  "--use", "trace=~lib/flowplane_runtime/flowplaneTrace",
  "--use", "seed=~lib/flowplane_runtime/flowplaneSeed",
  "--optimizeLevel", "3",
  "--shrinkLevel", "0",
  "--noColors",
];
let error = null;
try {
  const result = await asc.main(argv, { stdout: stream, stderr: stream, reportDiagnostic: report });
  error = result.error ? String(result.error.message ?? result.error) : null;
} catch (thrown) {
  error = String(thrown && thrown.message ? thrown.message : thrown);
}
const failed = error !== null || problems.some((problem) => problem.severity === "error");
if (error !== null && !problems.some((problem) => problem.severity === "error")) {
  problems.push({ message: error, code: "AS0", severity: "error", file: null, line: null,
    column: null, end_line: null, end_column: null });
}
process.stdout.write(JSON.stringify({ ok: !failed, problems, log: output.join("") }));
