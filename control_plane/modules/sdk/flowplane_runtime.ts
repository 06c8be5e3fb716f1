// AssemblyScript's own runtime imports, resolved inside the module (the build passes
// `--use abort=... --use trace=... --use seed=...`): no `env` import is left, so a module
// written against the ABI alone needs nothing but `flowplane` host functions.

@external("flowplane", "log")
declare function hostLog(level: i32, pointer: usize, length: usize): void;

function logText(level: i32, text: string): void {
  const encoded = String.UTF8.encode(text);
  hostLog(level, changetype<usize>(encoded), <usize>encoded.byteLength);
}

/** `abort` (failed assert, thrown error): an error log line, then a trap. */
export function flowplaneAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = message != null ? message : "abort";
  const where = fileName != null ? fileName : "?";
  logText(3, text + " (" + where + ":" + line.toString() + ":" + column.toString() + ")");
  unreachable();
}

/** `trace(message, n, a0..a4)`: a debug log line. */
export function flowplaneTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let text = message;
  if (n > 0) text += " " + a0.toString();
  if (n > 1) text += ", " + a1.toString();
  if (n > 2) text += ", " + a2.toString();
  if (n > 3) text += ", " + a3.toString();
  if (n > 4) text += ", " + a4.toString();
  logText(0, text);
}

/** `seed` of Math.random: fixed, so a module is deterministic (modules get no entropy). */
export function flowplaneSeed(): f64 {
  return 0x5eed;
}
