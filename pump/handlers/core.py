"""builtin.transform, builtin.branch and builtin.output: pure functions of the payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jmespath.exceptions import JMESPathError

from pump.handlers.base import HandlerResult, StepContext, StepError
from pump.organism.expressions import compile_expression
from pump.organism.models import BranchConfig, OutputConfig, TransformConfig
from pump.templating import MissingSecretError, has_dynamic_parts, render


def evaluate_or_fail(expression: str, context: dict[str, Any]) -> Any:
    try:
        return compile_expression(expression).search(context)
    except (JMESPathError, ValueError, TypeError) as error:
        raise StepError("expression_error", f"expression {expression!r} failed: {error}") from error


def render_or_fail(value: Any, context: dict[str, Any], secrets: Mapping[str, str]) -> Any:
    try:
        return render(value, context, secrets)
    except MissingSecretError as error:
        raise StepError("missing_secret", str(error)) from error
    except (JMESPathError, ValueError, TypeError) as error:
        raise StepError("expression_error", f"template {value!r} failed: {error}") from error


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: null, false, "" and empty lists/objects are false; 0 is true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


class TransformHandler:
    """`expression`: its value becomes the payload. `set`: fields rendered and merged in
    (into `{}` when the payload is not an object)."""

    def __init__(self, config: TransformConfig, secrets: Mapping[str, str]) -> None:
        self._expression = config.expression
        self._set = config.set
        self._set_is_static = config.set is not None and not has_dynamic_parts(config.set)
        self._secrets = secrets
        if self._expression is not None:
            compile_expression(self._expression)

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        if self._expression is None and self._set is None:
            return HandlerResult(payload)
        scope = context.template_context(payload)
        result = payload
        if self._expression is not None:
            result = evaluate_or_fail(self._expression, scope)
        if self._set is not None:
            fields = (
                self._set
                if self._set_is_static
                else render_or_fail(self._set, {**scope, "payload": result}, self._secrets)
            )
            base = result if isinstance(result, dict) else {}
            result = {**base, **fields}
        return HandlerResult(result)


class BranchHandler:
    """First case whose `when` is true chooses the peer; else `default`; else nowhere."""

    def __init__(self, config: BranchConfig) -> None:
        self._cases = [(case.when, case.to) for case in config.cases]
        self._default = config.default
        for when, _ in self._cases:
            compile_expression(when)

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        scope = context.template_context(payload)
        for when, target in self._cases:
            if is_truthy(evaluate_or_fail(when, scope)):
                return HandlerResult(payload, route=[target])
        return HandlerResult(payload, route=[self._default] if self._default else [])


class OutputHandler:
    """Records its payload (or `expression` of it) as an output of the execution."""

    def __init__(self, config: OutputConfig) -> None:
        self._expression = config.expression
        if self._expression is not None:
            compile_expression(self._expression)

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        if self._expression is None:
            return HandlerResult(payload)
        return HandlerResult(evaluate_or_fail(self._expression, context.template_context(payload)))
