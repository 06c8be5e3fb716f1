// An example handler: triage a support ticket.
//
// payload: {subject, body}; config: {keywords: [..], high: "<peer>", normal: "<peer>"}
// result:  {priority, matched, words, subject, seen?} and `_to` (config.high or config.normal)
// It logs its decision and, when the flow has project memory, counts the tickets it has seen.

import { Kind, Value, input, log, memoryGet, memorySet, respond, INFO, MEMORY_OK } from "./flowplane";

export { alloc } from "./flowplane";

function countWords(text: string): i32 {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const space = code == 0x20 || code == 0x0a || code == 0x0d || code == 0x09;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

export function handle(pointer: usize, length: i32): i64 {
  const document = input(pointer, length);
  const payload = document.get("payload");
  const config = document.get("config");
  const subject = payload != null ? payload.getString("subject") : "";
  const body = payload != null ? payload.getString("body") : "";
  const haystack = (subject + " " + body).toLowerCase();

  const matched = Value.array();
  const keywords = config != null ? config.get("keywords") : null;
  if (keywords != null && keywords.kind == Kind.Array) {
    for (let i = 0; i < keywords.items.length; i++) {
      const keyword = keywords.items[i];
      if (keyword.kind == Kind.String && haystack.includes(keyword.text.toLowerCase())) {
        matched.push(Value.str(keyword.text));
      }
    }
  }
  const high = matched.items.length > 0;
  const priority = high ? "high" : "normal";
  log(INFO, "ticket '" + subject + "' is " + priority + " priority");

  const result = Value.object()
    .set("priority", Value.str(priority))
    .set("matched", matched)
    .set("words", Value.num(<f64>countWords(subject + " " + body)))
    .set("subject", Value.str(subject));

  const previous = memoryGet("tickets.seen");
  const seen = previous != null && previous.kind == Kind.Number ? previous.number + 1 : 1;
  if (memorySet("tickets.seen", Value.num(seen)) == MEMORY_OK) {
    result.set("seen", Value.num(seen));
  }

  if (config != null) {
    const next = config.getString(high ? "high" : "normal");
    if (next.length > 0) result.set("_to", Value.str(next));
  }
  return respond(result);
}
