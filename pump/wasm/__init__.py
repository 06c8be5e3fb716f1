"""WebAssembly handlers: wasmtime runtime, host imports, modules by content hash."""
