"""Built-in and WebAssembly handlers; `pump.handlers.registry.build_handler` binds a listener
to one. Every handler implements `pump.handlers.base.Handler`."""
