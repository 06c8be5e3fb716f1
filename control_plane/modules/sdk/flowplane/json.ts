// A small JSON value, parser and serializer: enough for the pump's JSON ABI, nothing more.

export enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class Value {
  kind: Kind = Kind.Null;
  boolean: bool = false;
  number: f64 = 0;
  text: string = "";
  items: Value[] = [];
  keys: string[] = [];

  static null(): Value {
    return new Value();
  }

  static bool(value: bool): Value {
    const result = new Value();
    result.kind = Kind.Bool;
    result.boolean = value;
    return result;
  }

  static num(value: f64): Value {
    const result = new Value();
    result.kind = Kind.Number;
    result.number = value;
    return result;
  }

  static str(value: string): Value {
    const result = new Value();
    result.kind = Kind.String;
    result.text = value;
    return result;
  }

  static array(): Value {
    const result = new Value();
    result.kind = Kind.Array;
    return result;
  }

  static object(): Value {
    const result = new Value();
    result.kind = Kind.Object;
    return result;
  }

  /** The member `key` of an object, or null. */
  get(key: string): Value | null {
    if (this.kind != Kind.Object) return null;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /** The string member `key`, or `fallback`. */
  getString(key: string, fallback: string = ""): string {
    const member = this.get(key);
    return member != null && member.kind == Kind.String ? member.text : fallback;
  }

  /** The number member `key`, or `fallback`. */
  getNumber(key: string, fallback: f64 = 0): f64 {
    const member = this.get(key);
    return member != null && member.kind == Kind.Number ? member.number : fallback;
  }

  /** The boolean member `key`, or `fallback`. */
  getBool(key: string, fallback: bool = false): bool {
    const member = this.get(key);
    return member != null && member.kind == Kind.Bool ? member.boolean : fallback;
  }

  /** Whether the object has a member `key`. */
  has(key: string): bool {
    return this.get(key) != null;
  }

  /** Set member `key` (objects); returns this object, so calls chain. */
  set(key: string, value: Value): Value {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) {
        this.items[i] = value;
        return this;
      }
    }
    this.keys.push(key);
    this.items.push(value);
    return this;
  }

  /** Append to an array; returns this array. */
  push(value: Value): Value {
    this.items.push(value);
    return this;
  }
}

class Parser {
  position: i32 = 0;
  constructor(public source: string) {}

  fail(what: string): Value {
    throw new Error("invalid JSON at " + this.position.toString() + ": " + what);
  }

  peek(): i32 {
    return this.position < this.source.length ? this.source.charCodeAt(this.position) : -1;
  }

  skipSpace(): void {
    while (this.position < this.source.length) {
      const code = this.source.charCodeAt(this.position);
      if (code != 0x20 && code != 0x0a && code != 0x0d && code != 0x09) break;
      this.position++;
    }
  }

  expectWord(word: string, value: Value): Value {
    if (this.source.substr(this.position, word.length) != word) return this.fail("expected " + word);
    this.position += word.length;
    return value;
  }

  value(): Value {
    this.skipSpace();
    const code = this.peek();
    if (code == 0x7b) return this.object();
    if (code == 0x5b) return this.array();
    if (code == 0x22) return Value.str(this.string());
    if (code == 0x74) return this.expectWord("true", Value.bool(true));
    if (code == 0x66) return this.expectWord("false", Value.bool(false));
    if (code == 0x6e) return this.expectWord("null", Value.null());
    if (code == 0x2d || (code >= 0x30 && code <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  number(): Value {
    const start = this.position;
    while (this.position < this.source.length) {
      const code = this.source.charCodeAt(this.position);
      const numeric =
        (code >= 0x30 && code <= 0x39) || code == 0x2d || code == 0x2b || code == 0x2e || code == 0x65 || code == 0x45;
      if (!numeric) break;
      this.position++;
    }
    return Value.num(parseFloat(this.source.substring(start, this.position)));
  }

  string(): string {
    this.position++; // the opening quote
    let result = "";
    let runStart = this.position;
    while (true) {
      if (this.position >= this.source.length) {
        this.fail("unterminated string");
        return "";
      }
      const code = this.source.charCodeAt(this.position);
      if (code == 0x22) {
        result += this.source.substring(runStart, this.position);
        this.position++;
        return result;
      }
      if (code == 0x5c) {
        result += this.source.substring(runStart, this.position);
        const escaped = this.source.charCodeAt(this.position + 1);
        this.position += 2;
        if (escaped == 0x6e) result += "\n";
        else if (escaped == 0x74) result += "\t";
        else if (escaped == 0x72) result += "\r";
        else if (escaped == 0x62) result += "\b";
        else if (escaped == 0x66) result += "\f";
        else if (escaped == 0x75) {
          const hex = this.source.substr(this.position, 4);
          result += String.fromCharCode(<i32>parseInt(hex, 16));
          this.position += 4;
        } else result += String.fromCharCode(escaped);
        runStart = this.position;
        continue;
      }
      this.position++;
    }
  }

  array(): Value {
    this.position++;
    const result = Value.array();
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.position++;
      return result;
    }
    while (true) {
      result.push(this.value());
      this.skipSpace();
      const code = this.peek();
      this.position++;
      if (code == 0x5d) return result;
      if (code != 0x2c) return this.fail("expected , or ]");
    }
  }

  object(): Value {
    this.position++;
    const result = Value.object();
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.position++;
      return result;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail("expected a key");
      const key = this.string();
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected :");
      this.position++;
      result.set(key, this.value());
      this.skipSpace();
      const code = this.peek();
      this.position++;
      if (code == 0x7d) return result;
      if (code != 0x2c) return this.fail("expected , or }");
    }
  }
}

export function parse(source: string): Value {
  const parser = new Parser(source);
  const result = parser.value();
  parser.skipSpace();
  if (parser.position != source.length) parser.fail("trailing characters");
  return result;
}

function quote(text: string): string {
  let result = '"';
  let runStart = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let escaped = "";
    if (code == 0x22) escaped = '\\"';
    else if (code == 0x5c) escaped = "\\\\";
    else if (code == 0x0a) escaped = "\\n";
    else if (code == 0x0d) escaped = "\\r";
    else if (code == 0x09) escaped = "\\t";
    else if (code < 0x20) escaped = "\\u00" + (code < 0x10 ? "0" : "") + code.toString(16);
    else continue;
    result += text.substring(runStart, i) + escaped;
    runStart = i + 1;
  }
  return result + text.substring(runStart) + '"';
}

function formatNumber(value: f64): string {
  if (!isFinite(value)) return "null";
  if (value == Math.floor(value) && Math.abs(value) < 9007199254740992) return (<i64>value).toString();
  return value.toString();
}

export function stringify(value: Value): string {
  switch (value.kind) {
    case Kind.Bool:
      return value.boolean ? "true" : "false";
    case Kind.Number:
      return formatNumber(value.number);
    case Kind.String:
      return quote(value.text);
    case Kind.Array: {
      const parts = new Array<string>();
      for (let i = 0; i < value.items.length; i++) parts.push(stringify(value.items[i]));
      return "[" + parts.join(",") + "]";
    }
    case Kind.Object: {
      const parts = new Array<string>();
      for (let i = 0; i < value.keys.length; i++) {
        parts.push(quote(value.keys[i]) + ":" + stringify(value.items[i]));
      }
      return "{" + parts.join(",") + "}";
    }
    default:
      return "null";
  }
}
