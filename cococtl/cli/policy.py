"""``cococtl policy check``: parse and evaluate a Trustee Rego policy offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Check Trustee Rego policies offline.")


def _json_file(path: Path | None, what: str) -> Any:
    from cococtl.errors import InvalidInputError, NotFoundError

    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{what} file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{what} file {path} is not JSON: {exc}") from None


@app.command("check")
def check(
    ctx: typer.Context,
    policy_file: Annotated[Path, typer.Argument(metavar="FILE.rego", help="The policy.")],
    input_file: Annotated[Path | None, typer.Option("--input", metavar="JSON", help="input (token claims).")] = None,
    data_file: Annotated[Path | None, typer.Option("--data", metavar="JSON", help="data document.")] = None,
) -> None:
    """Parse FILE.rego (errors with line numbers, exit 3) and evaluate data.policy.allow."""
    from cococtl.errors import InvalidInputError, NotFoundError
    from cococtl.policy.rego import check_policy, evaluate

    try:
        text = policy_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"policy file {policy_file} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"policy file {policy_file} is not UTF-8 text") from None
    check_policy(text, name=str(policy_file))
    allow = evaluate(
        text,
        "data.policy.allow",
        input_value=_json_file(input_file, "input"),
        data=_json_file(data_file, "data"),
        name=str(policy_file),
    )
    out = get_output(ctx)
    if out.json:
        out.result_json({"policy": str(policy_file), "parses": True, "allow": allow})
    else:
        out.status(f"{policy_file}: parses")
        out.result_text(f"allow = {json.dumps(allow)}")
