;; Grows its memory to 60 MiB and writes every page (so it is really resident), then returns
;; {}: a pump container with less memory than that left is killed by the kernel.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{}")
  (func (export "alloc") (param $len i32) (result i32)
    (i32.const 1024))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $start i32)
    (loop $more
      (local.set $start (i32.shl (memory.size) (i32.const 16)))
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1))
        (then unreachable))
      (memory.fill (local.get $start) (i32.const 1) (i32.const 1048576))
      (br_if $more (i32.lt_u (memory.size) (i32.const 960))))
    (i64.const 2))
)
