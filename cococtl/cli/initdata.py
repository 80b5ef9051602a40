"""``cococtl initdata …``: write, check, measure and encode init-data (the TOML a CoCo pod is launched with)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.choices import DigestAlgorithm, PolicyKind, SnippetTee
from cococtl.cli.output import get_output

app = typer.Typer(
    no_args_is_help=True,
    help="Init-data: write, validate, digest (TDX/SNP/CCA forms), encode as the Kata annotation, decode.",
)

InputArg = Annotated[str, typer.Argument(metavar="FILE", help="Init-data TOML, or - for stdin.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace an existing output.")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help="Output file, - for stdout.")]


def _read(source: str, what: str) -> bytes:
    import sys

    if source == "-":
        return sys.stdin.buffer.read()
    from cococtl.fsutil import open_input

    with open_input(Path(source)) as handle:
        return handle.read()


def _read_text(path: Path, what: str) -> str:
    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import open_input

    with open_input(path) as handle:
        raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} {path} is not UTF-8 text") from None


def _write(output: str, data: bytes, *, force: bool) -> None:
    import sys

    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from cococtl.fsutil import atomic_output

    with atomic_output(Path(output), force=force, private=False) as handle:
        handle.write(data)


@app.command("new")
def new(
    ctx: typer.Context,
    kbs_url: Annotated[
        str, typer.Option("--kbs-url", metavar="URL", help="KBS the guest attests to (aa.toml and cdh.toml).")
    ],
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Where to write, - for stdout.")],
    kbs_cert: Annotated[
        Path | None, typer.Option("--kbs-cert", metavar="PEM", help="CA certificate of an HTTPS KBS.")
    ] = None,
    as_url: Annotated[str | None, typer.Option("--as-url", metavar="URL", help="Also a CoCo AS token config.")] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", metavar="FILE", help="Kata agent policy (policy.rego).")
    ] = None,
    image_security_policy: Annotated[
        Path | None,
        typer.Option("--image-security-policy", metavar="FILE", help="containers-policy.json, embedded in cdh.toml."),
    ] = None,
    image_security_policy_uri: Annotated[
        str | None,
        typer.Option("--image-security-policy-uri", metavar="URI", help="Or a kbs:/// or file:// URI to it."),
    ] = None,
    registry_cert: Annotated[
        list[Path] | None,
        typer.Option("--registry-cert", metavar="PEM", help="Extra registry root certificate (repeatable)."),
    ] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option("--credential", metavar="KBS_URI::PATH", help="A CDH credential to fetch at start (repeatable)."),
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option("--data", metavar="KEY=FILE", help="Any other [data] entry from a file (repeatable)."),
    ] = None,
    algorithm: Annotated[
        DigestAlgorithm, typer.Option("--algorithm", help="Digest algorithm of the document.")
    ] = DigestAlgorithm.sha384,
    force: ForceOpt = False,
) -> None:
    """Write an init-data TOML skeleton: version, algorithm and [data] with aa.toml, cdh.toml, policy.rego."""
    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import check_writable_destination
    from cococtl.initdata.core import parse
    from cococtl.initdata.render import Skeleton, render
    from cococtl.kbs.uri import parse_resource_uri

    if output != "-":
        check_writable_destination(Path(output), force=force)
    if image_security_policy is not None and image_security_policy_uri is not None:
        raise InvalidInputError("give --image-security-policy or --image-security-policy-uri, not both")
    credentials = []
    for item in credential or []:
        uri, sep, target = item.partition("::")
        if not sep or not target:
            raise InvalidInputError(f"--credential {item!r}: expected KBS_URI::PATH")
        parse_resource_uri(uri)
        credentials.append((uri, target))
    extra = {}
    for item in data or []:
        key, sep, file = item.partition("=")
        if not sep or not key or not file:
            raise InvalidInputError(f"--data {item!r}: expected KEY=FILE")
        extra[key] = _read_text(Path(file), f"--data {key}")
    skeleton = Skeleton(
        kbs_url=kbs_url,
        kbs_cert=_read_text(kbs_cert, "KBS certificate") if kbs_cert else None,
        as_url=as_url,
        policy=_read_text(policy, "policy") if policy else None,
        image_security_policy=_read_text(image_security_policy, "image security policy")
        if image_security_policy
        else None,
        image_security_policy_uri=image_security_policy_uri,
        registry_certs=[_read_text(p, "registry certificate") for p in registry_cert or []],
        credentials=credentials,
        algorithm=algorithm,
        extra=extra,
    )
    document = render(skeleton)
    _write(output, document, force=force)
    init = parse(document)
    out = get_output(ctx)
    if output != "-":
        out.status(f"wrote {output} ({len(document)} bytes, {init.algorithm} {init.digest.hex()})")
        out.detail("check it with: cococtl initdata validate " + output)


@app.command("validate")
def validate(ctx: typer.Context, source: InputArg) -> None:
    """Check the TOML and every embedded file against what the guest reads (exit 3 on any error).

    aa.toml, cdh.toml and policy.rego are checked too; every problem is listed with its path.
    """
    import sys

    from cococtl.initdata.validate import validate as run

    problems = run(_read(source, "init-data"), name=source)
    errors = [p for p in problems if p.level == "error"]
    out = get_output(ctx)
    if out.json:
        out.result_json({"file": source, "valid": not errors, "problems": [p.as_dict() for p in problems]})
    else:
        for problem in problems:
            if problem.level == "error" or not out.quiet:
                print(f"{source}: {problem}", file=sys.stderr)
    if errors:
        raise typer.Exit(3)
    if not out.json:
        out.status(f"{source}: valid init-data")


@app.command("digest")
def digest(ctx: typer.Context, source: InputArg) -> None:
    """The init-data digest over the exact bytes, and the TDX MRCONFIGID / SNP HOST_DATA / CCA forms."""
    from cococtl.initdata.core import digest_report, parse

    init = parse(_read(source, "init-data"), name=source)
    report = digest_report(init)
    out = get_output(ctx)
    if out.json:
        out.result_json({"file": source, **report})
        return
    lines = [
        f"algorithm    {report['algorithm']}",
        f"digest       {report['digest_hex']}",
        f"base64       {report['digest_base64']}",
    ]
    for tee, register in report["tee"].items():
        lines.append(f"{tee:<12} {register['hex']}  ({register['field']}, {register['bytes']} bytes)")
    out.result_text("\n".join(lines))


@app.command("annotation")
def annotation(ctx: typer.Context, source: InputArg) -> None:
    """The Kata annotation value (cc_init_data): base64 of gzip of the exact bytes."""
    from cococtl.initdata.core import ANNOTATION, digest_report, encode_annotation, parse

    raw = _read(source, "init-data")
    init = parse(raw, name=source)
    value = encode_annotation(raw)
    out = get_output(ctx)
    if out.json:
        out.result_json({"annotation": ANNOTATION, "value": value, **digest_report(init)})
    else:
        out.result_text(value)
        out.detail(f"annotation {ANNOTATION}")


@app.command("decode")
def decode(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="VALUE|-", help="An annotation value, or - to read it from stdin.")],
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn an annotation value back into the exact TOML bytes (stdout, or -o FILE)."""
    import sys

    from cococtl.initdata.core import decode_annotation, digest_report, parse

    raw = decode_annotation(sys.stdin.buffer.read() if value == "-" else value)
    out = get_output(ctx)
    if out.json:
        from cococtl.errors import CococtlError
        from cococtl.initdata.core import decode_text

        document: dict[str, object] = {"toml": decode_text(raw), "bytes": len(raw)}
        try:
            document.update(digest_report(parse(raw)))
        except CococtlError as exc:  # a decodable but invalid document is still shown
            document["problem"] = exc.message
        out.result_json(document)
        return
    _write(output or "-", raw, force=force)
    if output not in (None, "-"):
        out.status(f"wrote {output} ({len(raw)} bytes)")


@app.command("policy-snippet")
def policy_snippet(
    ctx: typer.Context,
    source: InputArg,
    tee: Annotated[
        list[SnippetTee] | None, typer.Option("--tee", help="TEE whose claim to match (repeatable; default all).")
    ] = None,
    kind: Annotated[
        PolicyKind, typer.Option("--kind", help="resource (a KBS resource policy) or attestation (a rule).")
    ] = PolicyKind.resource,
    affirming: Annotated[bool, typer.Option("--affirming", help="Also require ear.status affirming.")] = False,
) -> None:
    """The Rego that requires this init-data's digest, and the reference value to register."""
    from cococtl.errors import InvalidInputError
    from cococtl.initdata.core import parse
    from cococtl.initdata.snippet import TEES, attestation_rule, resource_policy, snippet_report

    tees = tuple(dict.fromkeys(tee or TEES))
    if not set(tees) <= set(TEES):
        raise InvalidInputError(f"--tee must be one of {', '.join(TEES)}")
    if kind not in ("resource", "attestation"):
        raise InvalidInputError("--kind must be resource or attestation")
    init = parse(_read(source, "init-data"), name=source)
    out = get_output(ctx)
    if out.json:
        out.result_json({"file": source, **snippet_report(init, tees, affirming=affirming)})
    elif kind == "resource":
        out.result_text(resource_policy(init, tees, affirming=affirming))
    else:
        out.result_text(attestation_rule(init, tees))
