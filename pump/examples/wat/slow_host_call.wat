;; Forwards the first object of its input that starts with {"method" (a trigger payload such
;; as {"method":"GET","url":"http://..."}) to flowplane.http_fetch and returns the response.
;; Used with a server that answers slowly: the invocation's deadline must stop the host call.
(module
  (import "flowplane" "http_fetch" (func $http_fetch (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "{\"_error\":\"no request in the payload\"}")

  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local $pages i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (local.get $len)))
    (local.set $pages
      (i32.sub
        (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then unreachable))))
    (local.get $ptr))

  ;; the 9 bytes {"method" at $at?
  (func $is_request (param $at i32) (result i32)
    (i32.and
      (i64.eq (i64.load (local.get $at)) (i64.const 0x646f6874656d227b))
      (i32.eq (i32.load8_u (i32.add (local.get $at) (i32.const 8))) (i32.const 0x22))))

  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $at i32)
    (local $last i32)
    (local $close i32)
    (local.set $at (local.get $ptr))
    (local.set $last (i32.sub (i32.add (local.get $ptr) (local.get $len)) (i32.const 9)))
    (block $found
      (loop $scan
        (if (i32.gt_s (local.get $at) (local.get $last))
          (then (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 38)))))
        (br_if $found (call $is_request (local.get $at)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $scan)))
    (local.set $close (local.get $at))
    (loop $to_brace
      (if (i32.ne (i32.load8_u (local.get $close)) (i32.const 0x7d))
        (then
          (local.set $close (i32.add (local.get $close) (i32.const 1)))
          (br $to_brace))))
    (call $http_fetch
      (local.get $at)
      (i32.add (i32.sub (local.get $close) (local.get $at)) (i32.const 1))))
)
