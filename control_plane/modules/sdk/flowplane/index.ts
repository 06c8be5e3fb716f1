// The Flowplane SDK for AssemblyScript modules: `import { ... } from "flowplane"`.
//
// A module exports `memory` (automatic), `alloc` (re-export it from here) and
// `handle(pointer, length): i64`. The input is JSON {payload, config, execution}; the result is
// JSON. An object result may carry `_to` (a peer name or a list of them: where it goes next)
// and `_error` (a message: the step fails). Types for the browser editor: flowplane.d.ts.

import { Kind, Value, parse, stringify } from "./json";

export { Kind, Value, parse, stringify } from "./json";

@external("flowplane", "log")
declare function hostLog(level: i32, pointer: usize, length: usize): void;

@external("flowplane", "memory_get")
declare function hostMemoryGet(keyPointer: usize, keyLength: usize): i64;

@external("flowplane", "memory_set")
declare function hostMemorySet(keyPointer: usize, keyLength: usize, valuePointer: usize, valueLength: usize): i32;

@external("flowplane", "http_fetch")
declare function hostHttpFetch(requestPointer: usize, requestLength: usize): i64;

export const DEBUG: i32 = 0;
export const INFO: i32 = 1;
export const WARNING: i32 = 2;
export const ERROR: i32 = 3;

// memorySet status codes
export const MEMORY_OK: i32 = 0;
export const MEMORY_DISABLED: i32 = 1;
export const MEMORY_QUOTA_EXCEEDED: i32 = 2;
export const MEMORY_INVALID: i32 = 3;

/** ABI export: room for `length` bytes the host writes into. Re-export it: `export { alloc } from "flowplane"`. */
export function alloc(length: i32): usize {
  return heap.alloc(<usize>max(length, 1));
}

/** The invocation's input: an object with `payload`, `config` and `execution`. */
export class Input {
  constructor(public document: Value) {}

  /** The message payload (null when absent). */
  get payload(): Value {
    const value = this.document.get("payload");
    return value != null ? value : Value.null();
  }

  /** The listener's `config` from the flow (an empty object when absent). */
  get config(): Value {
    const value = this.document.get("config");
    return value != null ? value : Value.object();
  }

  /** {id, trigger, flow_id, step, listener, started_at} of the running execution. */
  get execution(): Value {
    const value = this.document.get("execution");
    return value != null ? value : Value.object();
  }
}

/** Decode the input of `handle(pointer, length)`. */
export function input(pointer: usize, length: i32): Input {
  return new Input(parse(String.UTF8.decodeUnsafe(pointer, <usize>length)));
}

/** Hand a result back to the host: `return respond(result)` from `handle`. */
export function respond(result: Value): i64 {
  const encoded = String.UTF8.encode(stringify(result));
  return (<i64>changetype<usize>(encoded) << 32) | <i64>encoded.byteLength;
}

/** Fail the step with `message` (the flow's `on_error` peer receives it, if set). */
export function fail(message: string): i64 {
  return respond(Value.object().set("_error", Value.str(message)));
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
  return value.kind == Kind.Null ? null : value;
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

/** Project memory: remove `key`; returns a MEMORY_* status code. */
export function memoryDelete(key: string): i32 {
  const encodedKey = String.UTF8.encode(key);
  return hostMemorySet(changetype<usize>(encodedKey), <usize>encodedKey.byteLength, 0, 0);
}

/**
 * An HTTP request through the pump's guarded client. Needs the `http_fetch` capability,
 * declared with the hosts the module may reach. `request`: {method, url, headers?, json?,
 * body?, timeout_seconds?}. The answer: {status, headers, json} or {status, headers, body},
 * or {error, reason} when the request could not be made.
 */
export function httpFetch(request: Value): Value {
  const encoded = String.UTF8.encode(stringify(request));
  const packed = hostHttpFetch(changetype<usize>(encoded), <usize>encoded.byteLength);
  const text = String.UTF8.decodeUnsafe(<usize>(packed >>> 32), <usize>(packed & 0xffffffff));
  return parse(text);
}

/** `httpFetch` of a GET request to `url`. */
export function httpGet(url: string): Value {
  return httpFetch(Value.object().set("method", Value.str("GET")).set("url", Value.str(url)));
}
