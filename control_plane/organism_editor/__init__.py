"""The editor's compiler service: canvas -> organism YAML and YAML -> canvas, with problems.

The browser never keeps a second implementation of the language: it calls these endpoints."""
