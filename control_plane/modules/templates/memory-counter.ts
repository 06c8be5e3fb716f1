// Memory counter: count messages per key in the flow's project memory (the flow needs
// `memory: {project: true}` and a plan with project memory). payload: {"key": "visits"}
import { Kind, MEMORY_OK, Value, WARNING, input, log, memoryGet, memorySet, respond } from "flowplane";

export { alloc } from "flowplane";

export function handle(pointer: usize, length: i32): i64 {
  const request = input(pointer, length);
  const key = "count:" + request.payload.getString("key", "default");

  const previous = memoryGet(key);
  const count = previous != null && previous.kind == Kind.Number ? previous.number + 1 : 1;
  const stored = memorySet(key, Value.num(count)) == MEMORY_OK;
  if (!stored) log(WARNING, "project memory is off: the count is not kept");

  return respond(Value.object().set("key", Value.str(key)).set("count", Value.num(count)).set("stored", Value.bool(stored)));
}
