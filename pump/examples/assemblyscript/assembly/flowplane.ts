// The Flowplane pump's WASM ABI for AssemblyScript (see pump/README.md, "WASM ABI").
//
// A module exports `memory`, `alloc(len) -> ptr` and `handle(ptr, len) -> i64`; the input is
// UTF-8 JSON {payload, config, execution}; the result is UTF-8 JSON, returned as ptr << 32 | len.
// Re-export `alloc` from your entry file and write `handle` with `input()` and `respond()`.
// Build with `--runtime stub` (an instance lives for one invocation: nothing needs freeing) and
// `--use abort=assembly/flowplane/abort` (the only imports allowed come from `flowplane`).

import { Value, parse, stringify } from "./json";

export { Value, Kind, parse, stringify } from "./json";

@external("flowplane", "log")
declare function hostLog(level: i32, pointer: usize, length: usize): void;

@external("flowplane", "memory_get")
declare function hostMemoryGet(keyPointer: usize, keyLength: usize): i64;

@external("flowplane", "memory_set")
declare function hostMemorySet(keyPointer: usize, keyLength: usize, valuePointer: usize, valueLength: usize): i32;

export const DEBUG: i32 = 0;
export const INFO: i32 = 1;
export const WARNING: i32 = 2;
export const ERROR: i32 = 3;

// memory_set status codes
export const MEMORY_OK: i32 = 0;
export const MEMORY_DISABLED: i32 = 1;
export const MEMORY_QUOTA_EXCEEDED: i32 = 2;

/** ABI export: room for `length` bytes the host writes into. */
export function alloc(length: i32): usize {
  return heap.alloc(<usize>max(length, 1));
}

/** The invocation's input document: {payload, config, execution}. */
export function input(pointer: usize, length: i32): Value {
  return parse(String.UTF8.decodeUnsafe(pointer, <usize>length));
}

/** Hand a result back to the host: the return value of `handle`. */
export function respond(result: Value): i64 {
  const encoded = String.UTF8.encode(stringify(result));
  return (<i64>changetype<usize>(encoded) << 32) | <i64>encoded.byteLength;
}

/** A line in the execution's log (level: DEBUG, INFO, WARNING or ERROR). */
export function log(level: i32, message: string): void {
  const encoded = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(encoded), <usize>encoded.byteLength);
}

/** Project memory: the value under `key`; null when absent or when the flow may not use it. */
export function memoryGet(key: string): Value | null {
  const encodedKey = String.UTF8.encode(key);
  const packed = hostMemoryGet(changetype<usize>(encodedKey), <usize>encodedKey.byteLength);
  if (packed < 0) return null;
  const text = String.UTF8.decodeUnsafe(<usize>(packed >>> 32), <usize>(packed & 0xffffffff));
  const value = parse(text);
  return value.kind == 0 ? null : value;
}

/** Project memory: store `value` under `key`; returns a MEMORY_* status code. */
export function memorySet(key: string, value: Value): i32 {
  const encodedKey = String.UTF8.encode(key);
  const encodedValue = String.UTF8.encode(stringify(value));
  return hostMemorySet(
    changetype<usize>(encodedKey),
    <usize>encodedKey.byteLength,
    changetype<usize>(encodedValue),
    <usize>encodedValue.byteLength,
  );
}

/** Replaces AssemblyScript's `env.abort`: log the message, then trap. */
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = (message != null ? message : "abort") + " (" + (fileName != null ? fileName : "?") + ":" + line.toString() + ")";
  log(ERROR, text);
  unreachable();
}
