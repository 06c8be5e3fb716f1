// JSON transform: reshape the payload. Try it with the payload {"name": "ada", "tags": ["a", "b"]}.
// config (from the flow's Code node): {"prefix": "Hello"}
import { Kind, Value, input, log, respond, INFO } from "flowplane";

export { alloc } from "flowplane";

export function handle(pointer: usize, length: i32): i64 {
  const request = input(pointer, length);
  const payload = request.payload;
  const prefix = request.config.getString("prefix", "Hello");

  const name = payload.getString("name", "world");
  const tags = payload.get("tags");
  const count = tags != null && tags.kind == Kind.Array ? tags.items.length : 0;
  log(INFO, "greeting " + name + " with " + count.toString() + " tags");

  const result = Value.object()
    .set("greeting", Value.str(prefix + ", " + name + "!"))
    .set("tag_count", Value.num(<f64>count))
    .set("original", payload);
  return respond(result);
}
