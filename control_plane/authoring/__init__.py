"""Authoring helpers of the editor: sample payloads, starter templates, flow files."""
