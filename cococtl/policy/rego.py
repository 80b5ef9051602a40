"""Parse and evaluate Rego with regopy (Microsoft rego-cpp), the way Trustee's KBS uses its policies."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from cococtl.errors import ExternalToolError, InvalidInputError

_LOCK = threading.Lock()
_ERROR_SPAN = re.compile(r"\(error \d+:[^|]*\|(\d+)\|\d+\s+\(errormsg \d+:([^)]*)\)")


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """rego-cpp prints parse errors straight to fd 1/2; keep them off our stdout and stderr."""
    with _LOCK, tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _interpreter() -> Any:
    try:
        from regopy import Interpreter
    except ImportError:
        raise ExternalToolError("Rego policies need regopy", hint="pip install regopy") from None
    return Interpreter()


def _load(interpreter: Any, text: str, name: str) -> None:
    from regopy import RegoError

    try:
        with _quiet_native_output():
            interpreter.add_module(name, text)
    except RegoError as error:
        problems = [(int(offset), message.strip()) for offset, message in _ERROR_SPAN.findall(str(error))]
        if not problems:
            raise InvalidInputError(f"{name}: the policy does not parse: {error}") from None
        located = [
            f"line {line}, column {col}: {message}"
            for offset, message in problems
            for line, col in [_line_col(text, offset)]
        ]
        raise InvalidInputError(f"{name}: the policy does not parse: " + "; ".join(located)) from None


_REFERENCE_VALUE_CALL = re.compile(r'query_reference_value\(\s*("(?:[^"\\]|\\.)*")\s*\)')


def with_reference_values_as_data(text: str) -> str:
    """Trustee's appraisal policies call the AS builtin ``query_reference_value("id")``, which regopy lacks:
    rewrite each call to ``data.reference_values["id"]`` (undefined when missing, like Trustee's null)."""
    return _REFERENCE_VALUE_CALL.sub(r"data.reference_values[\1]", text)


def check_policy(text: str, *, name: str = "policy.rego") -> None:
    """Raise InvalidInputError (with line and column) unless ``text`` is a Rego module of package policy."""
    if not re.search(r"^\s*package\s+policy\s*$", text, re.MULTILINE):
        raise InvalidInputError(f"{name}: a Trustee policy must declare 'package policy'")
    interpreter = _interpreter()
    _load(interpreter, text, name)
    evaluate(with_reference_values_as_data(text), "data.policy", name=name)


def evaluate(text: str, query: str, *, input_value: Any = None, data: Any = None, name: str = "policy.rego") -> Any:
    """Evaluate ``query`` (e.g. ``data.policy.allow``) and return its JSON value (None when undefined)."""
    from regopy import Input, RegoError

    interpreter = _interpreter()
    _load(interpreter, text, name)
    try:
        with _quiet_native_output():
            if data is not None:
                interpreter.add_data_json(json.dumps(data))
            if input_value is not None:
                interpreter.set_input(Input(input_value))
            output = interpreter.query(f"x = {query}")
    except (RegoError, ValueError) as error:  # regopy raises JSONDecodeError for some evaluation errors
        raise InvalidInputError(f"{name}: evaluating {query} failed: {error}") from None
    if not output.ok():
        raise InvalidInputError(f"{name}: evaluating {query} failed: {output}")
    rendered = str(output)
    if rendered.strip() == "undefined":
        return None
    try:
        document = json.loads(rendered)
    except json.JSONDecodeError:
        return None
    results = document if isinstance(document, list) else [document]
    for result in results:
        bindings = result.get("bindings", {}) if isinstance(result, dict) else {}
        if "x" in bindings:
            return bindings["x"]
    return None


def allows(text: str, *, input_value: Any, data: Any, name: str = "resource-policy") -> bool:
    """Trustee's rule: ``data.policy.allow`` must be exactly true; anything else denies."""
    return evaluate(text, "data.policy.allow", input_value=input_value, data=data, name=name) is True
