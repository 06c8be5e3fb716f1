"""The organism language (DESIGN.md §3): models, parser, validator, emitter and the
canvas <-> organism compiler. The control plane imports this package; it imports nothing of
the control plane."""

from pump.organism.editor import (
    CompileResult,
    ParseResult,
    canvas_to_organism,
    compile_canvas,
    parse_to_canvas,
)
from pump.organism.emitter import content_hash, emit_organism
from pump.organism.expressions import (
    ExpressionError,
    compile_expression,
    evaluate,
    render_template,
    template_expressions,
)
from pump.organism.layout import organism_to_canvas
from pump.organism.loader import MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES
from pump.organism.models import (
    BUILTIN_HANDLERS,
    HANDLER_CONFIGS,
    TOOL_REFERENCE,
    WASM_REFERENCE,
    BranchCase,
    BranchConfig,
    HttpConfig,
    Limits,
    Listener,
    LlmConfig,
    Memory,
    MemoryConfig,
    Organism,
    OrganismInfo,
    OutputConfig,
    TransformConfig,
    Trigger,
)
from pump.organism.parser import parse_organism
from pump.organism.problems import OrganismError, Problem
from pump.organism.validator import validate_organism

__all__ = [
    "BUILTIN_HANDLERS",
    "HANDLER_CONFIGS",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODES",
    "TOOL_REFERENCE",
    "WASM_REFERENCE",
    "BranchCase",
    "BranchConfig",
    "CompileResult",
    "ExpressionError",
    "HttpConfig",
    "Limits",
    "Listener",
    "LlmConfig",
    "Memory",
    "MemoryConfig",
    "Organism",
    "OrganismError",
    "OrganismInfo",
    "OutputConfig",
    "ParseResult",
    "Problem",
    "TransformConfig",
    "Trigger",
    "canvas_to_organism",
    "compile_canvas",
    "compile_expression",
    "content_hash",
    "emit_organism",
    "evaluate",
    "organism_to_canvas",
    "parse_organism",
    "parse_to_canvas",
    "render_template",
    "template_expressions",
    "validate_organism",
]
