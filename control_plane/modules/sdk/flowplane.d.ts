// Types of the Flowplane SDK for the browser editor (Monaco's TypeScript service, beside
// AssemblyScript's std/assembly/index.d.ts). Keep in step with flowplane/index.ts and
// flowplane/json.ts: tests/control_plane/modules/test_modules_sdk.py checks every export.

declare module "flowplane" {
  /** The kind of a JSON value. */
  export enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
  }

  /** A JSON value: check `kind`, then read `boolean`, `number`, `text`, `items` or `keys`. */
  export class Value {
    kind: Kind;
    boolean: bool;
    number: f64;
    text: string;
    /** Array elements, or object member values (in the order of `keys`). */
    items: Value[];
    /** Object member names. */
    keys: string[];
    static null(): Value;
    static bool(value: bool): Value;
    static num(value: f64): Value;
    static str(value: string): Value;
    static array(): Value;
    static object(): Value;
    /** The member `key` of an object, or null. */
    get(key: string): Value | null;
    /** The string member `key`, or `fallback`. */
    getString(key: string, fallback?: string): string;
    /** The number member `key`, or `fallback`. */
    getNumber(key: string, fallback?: f64): f64;
    /** The boolean member `key`, or `fallback`. */
    getBool(key: string, fallback?: bool): bool;
    /** Whether the object has a member `key`. */
    has(key: string): bool;
    /** Set member `key` (objects); returns this object, so calls chain. */
    set(key: string, value: Value): Value;
    /** Append to an array; returns this array. */
    push(value: Value): Value;
  }

  /** Parse JSON text (throws on invalid JSON). */
  export function parse(source: string): Value;
  /** Serialize a value as compact JSON. */
  export function stringify(value: Value): string;

  export const DEBUG: i32;
  export const INFO: i32;
  export const WARNING: i32;
  export const ERROR: i32;
  export const MEMORY_OK: i32;
  export const MEMORY_DISABLED: i32;
  export const MEMORY_QUOTA_EXCEEDED: i32;
  export const MEMORY_INVALID: i32;

  /** ABI export: re-export it with `export { alloc } from "flowplane"`. */
  export function alloc(length: i32): usize;

  /** The invocation's input. */
  export class Input {
    document: Value;
    /** The message payload. */
    readonly payload: Value;
    /** The listener's `config` from the flow. */
    readonly config: Value;
    /** {id, trigger, flow_id, step, listener, started_at} of the running execution. */
    readonly execution: Value;
  }

  /** Decode the input of `handle(pointer, length)`. */
  export function input(pointer: usize, length: i32): Input;
  /** Hand a result back: `return respond(result)` from `handle`. Set `_to` to route it. */
  export function respond(result: Value): i64;
  /** Fail the step with `message`. */
  export function fail(message: string): i64;
  /** A line in the execution's log (DEBUG, INFO, WARNING or ERROR). */
  export function log(level: i32, message: string): void;
  /** Project memory: the value under `key`, or null (absent, or memory is off). */
  export function memoryGet(key: string): Value | null;
  /** Project memory: store `value` under `key`; a MEMORY_* status code. */
  export function memorySet(key: string, value: Value): i32;
  /** Project memory: remove `key`; a MEMORY_* status code. */
  export function memoryDelete(key: string): i32;
  /** An HTTP request ({method, url, headers?, json?, body?, timeout_seconds?}); needs the
   * http_fetch capability. Answers {status, headers, json | body} or {error, reason}. */
  export function httpFetch(request: Value): Value;
  /** `httpFetch` of a GET request. */
  export function httpGet(url: string): Value;
}
