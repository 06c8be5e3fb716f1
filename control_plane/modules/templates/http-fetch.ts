// HTTP fetch: call an API and pass on part of its answer. The module declares the
// http_fetch capability with the hosts it may reach (see Capabilities); nothing else is allowed.
// config: {"url": "https://api.example.com/items"}; payload: anything (sent as the JSON body of a POST
// when config.method is "POST").
import { Value, fail, httpFetch, input, log, respond, INFO } from "flowplane";

export { alloc } from "flowplane";

export function handle(pointer: usize, length: i32): i64 {
  const request = input(pointer, length);
  const url = request.config.getString("url");
  if (url.length == 0) return fail("set config.url to the address to call");
  const method = request.config.getString("method", "GET");

  const call = Value.object().set("method", Value.str(method)).set("url", Value.str(url));
  if (method == "POST") call.set("json", request.payload);
  const answer = httpFetch(call);
  if (answer.has("error")) return fail(answer.getString("error"));

  const status = answer.getNumber("status");
  log(INFO, method + " " + url + " answered " + status.toString());
  const body = answer.get("json");
  return respond(
    Value.object()
      .set("status", Value.num(status))
      .set("data", body != null ? body : Value.str(answer.getString("body"))),
  );
}

