"""``cococtl completion SHELL``: print a shell completion script (the files in completions/).

The scripts carry the whole static command tree, generated from the Click commands: every subcommand, option
and fixed choice, and for each option whether it takes a value and of what kind (a choice, a file, a
directory, free text). Pressing TAB runs only shell code; file names come from the shell's own completion.
Python runs only for a parameter with an ``autocompletion`` callback (none today), through Typer's
``_COCOCTL_COMPLETE`` protocol, which keeps working as well.

``make completions`` writes the scripts and the help cache (``help.json``, see ``cococtl.cli``); a test keeps
both current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script for SHELL: bash, zsh or fish."""
    print(completion_script(shell.value), end="")


# Value kinds: w = one of fixed words, f = a file, d = a directory, t = free text, x = ask cococtl.
_FILE_METAVAR = re.compile(r"FILE|PEM|JSON|TOML|OUTPUT|JWK|INPUT|MANIFEST|\.rego", re.IGNORECASE)
_TEXT_ARGUMENT = re.compile(r"^(BASE64|ID|NAME|VALUE.*)$")


@dataclass
class Option:
    names: list[str]  # shown spellings, long first
    all_names: list[str]  # every spelling, hidden aliases and secondary (--no-…) flags included
    kind: str  # "" for a flag
    choices: list[str]
    help: str
    hidden: bool


@dataclass
class Node:
    path: str  # "" for the root, "kbs attest"
    summary: str
    subcommands: list[tuple[str, str]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    arguments: list[tuple[str, list[str]]] = field(default_factory=list)  # (kind, choices), in order


def _choices(param: Any) -> list[str]:
    return [str(c) for c in getattr(param.type, "choices", None) or ()]


def _kind(param: Any) -> str:
    if getattr(param, "_custom_shell_complete", None) is not None:
        return "x"
    if _choices(param):
        return "w"
    type_name = getattr(param.type, "name", "")
    metavar = param.metavar or ""
    if type_name == "path":
        return "d" if metavar == "DIR" or not getattr(param.type, "file_okay", True) else "f"
    if type_name not in ("text", "str"):
        return "t"
    if param.param_type_name == "argument":
        return "t" if metavar == "" or _TEXT_ARGUMENT.match(metavar) else "f"
    return "f" if _FILE_METAVAR.search(metavar) else "t"


def _first_sentence(text: str) -> str:
    text = " ".join((text or "").split())
    match = re.search(r"(?<=[a-z0-9)\]`'])\. ", text)
    return text[: match.start() + 1] if match else text


def collect(root: Any) -> list[Node]:
    """Every node of the command tree, depth first, with what completion needs to know."""
    from cococtl.cli.helpfmt import hidden_names, summary_of

    nodes: list[Node] = []

    def visit(command: Any, ctx: Any, path: str) -> None:
        node = Node(path, summary_of(command))
        nodes.append(node)
        for param in command.get_params(ctx):
            if param.param_type_name == "argument":
                node.arguments.append((_kind(param), _choices(param)))
                continue
            every = [*param.opts, *param.secondary_opts]
            hidden = hidden_names(param)
            shown = sorted((n for n in every if n not in hidden), key=lambda n: (not n.startswith("--"), n))
            flag = bool(param.is_flag or param.count)
            kind = "" if flag else _kind(param)
            node.options.append(Option(shown, every, kind, _choices(param), _first_sentence(param.help), param.hidden))
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is None or sub.hidden:
                    continue
                node.subcommands.append((name, summary_of(sub)))
                visit(sub, typer.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())

    visit(root, root_context(root), "")
    return nodes


def root_context(root: Any) -> Any:
    # With the root's settings (-h/--help): Click remembers each command's help option from its first context.
    return typer.Context(root, info_name="cococtl", **root.context_settings)


def walk_contexts(root: Any) -> list[Any]:
    """A context for every visible command, each with its parent's, as when the command runs."""
    contexts = []

    def visit(ctx: Any) -> None:
        contexts.append(ctx)
        command = ctx.command
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    visit(typer.Context(sub, info_name=name, parent=ctx))

    visit(root_context(root))
    return contexts


def completion_script(shell: str) -> str:
    """The completion script for ``shell``, generated from the command tree, exactly as shipped in completions/."""
    from cococtl.cli._app import command_tree

    nodes = collect(command_tree())
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](nodes)


SCRIPTS = {"bash": "cococtl.bash", "zsh": "_cococtl", "fish": "cococtl.fish"}


def help_document() -> dict[str, Any]:
    """Every visible command's ``--help`` text (at 80 columns) and the fingerprint of the sources it came from."""
    import os

    from cococtl.cli import help_fingerprint
    from cococtl.cli._app import command_tree
    from cococtl.cli.helpfmt import command_path

    texts = {}
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        for ctx in walk_contexts(command_tree()):
            texts[command_path(ctx)] = ctx.command.get_help(ctx) + "\n"
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return {"fingerprint": help_fingerprint(), "help": texts}


def help_json() -> str:
    import json

    return json.dumps(help_document(), indent=1, ensure_ascii=False) + "\n"


def write_generated(completions_dir: str = "completions") -> None:
    """What ``make completions`` writes: the three scripts and ``cococtl/cli/help.json``."""
    import os

    for shell, filename in SCRIPTS.items():
        with open(os.path.join(completions_dir, filename), "w", encoding="utf-8") as script:
            script.write(completion_script(shell))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.json"), "w", encoding="utf-8") as cache:
        cache.write(help_json())


# --- shared pieces ------------------------------------------------------------------------------------------


def _value_table(nodes: list[Node]) -> dict[str, list[str]]:
    """kind (or "w:<words>") -> ["path|--option", …] for every option that takes a value."""
    table: dict[str, list[str]] = {}
    for node in nodes:
        for option in node.options:
            if not option.kind:
                continue
            kind = f"w:{' '.join(option.choices)}" if option.kind == "w" else option.kind
            table.setdefault(kind, []).extend(f"{node.path}|{name}" for name in option.all_names)
    return table


def _argument_table(nodes: list[Node]) -> list[tuple[str, bool, str]]:
    """(``path|index``, is it "this index and later", kind or "w:<words>"): each position exactly first, then
    the last argument of each command standing also for any later position."""
    exact, later = [], []
    for node in nodes:
        for index, (kind, choices) in enumerate(node.arguments):
            value = f"w:{' '.join(choices)}" if kind == "w" else kind
            exact.append((f"{node.path}|{index}", False, value))
            if index == len(node.arguments) - 1:
                later.append((f"{node.path}|", True, value))
    return exact + later


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _long_names(option: Option) -> list[str]:
    return [n for n in option.names if n.startswith("--")] or option.names


# --- bash ---------------------------------------------------------------------------------------------------

_BASH_HEAD = """\
# bash completion for cococtl, generated from its command tree by `make completions` (cococtl completion bash).
# TAB runs no Python: subcommands, options and fixed choices are listed here, file names come from bash.

_cococtl_add() {
    local w
    for w in $1; do
        [[ $w == "$_cococtl_cur"* ]] && COMPREPLY+=("$w")
    done
}
"""

_BASH_MAIN = """\
_cococtl() {
    local IFS=$' \\t\\n' _cococtl_cur=${COMP_WORDS[COMP_CWORD]}
    local path="" i w opt="" expect="" glue="" npos=0 kind
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == "=" || $w == ":" ]]; then glue=1; continue; fi
        if [[ -n $expect ]]; then expect=""; glue=""; continue; fi
        if [[ -n $glue ]]; then glue=""; continue; fi
        case $w in
        --) break ;;
        -*)
            _cococtl_value "$path|$w"
            [[ -n $kind ]] && { expect=1; opt=$w; }
            continue
            ;;
        esac
        if _cococtl_is_group "$path" && _cococtl_has_sub "$path" "$w"; then
            path=${path:+$path }$w
            npos=0
        else
            npos=$((npos + 1))
        fi
    done
    [[ $_cococtl_cur == "=" ]] && _cococtl_cur=""
    if [[ -n $expect ]]; then
        _cococtl_value "$path|$opt"
    elif [[ $_cococtl_cur == -* ]]; then
        compopt +o default 2>/dev/null
        _cococtl_options_of "$path"
        _cococtl_add "$_cococtl_opts"
        return 0
    elif _cococtl_is_group "$path" && ((npos == 0)); then
        compopt +o default 2>/dev/null
        _cococtl_subs_of "$path"
        _cococtl_add "$_cococtl_subs"
        return 0
    else
        _cococtl_argument "$path|$npos"
    fi
    case $kind in
    w:*)
        compopt +o default 2>/dev/null
        _cococtl_add "${kind#w:}"
        ;;
    d) compopt +o default -o dirnames 2>/dev/null ;;
    t) compopt +o default 2>/dev/null ;;
    x)
        local IFS=$'\\n'
        COMPREPLY=($(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD _COCOCTL_COMPLETE=complete_bash \\
            "${COMP_WORDS[0]}" 2>/dev/null))
        ;;
    esac
    return 0
}

complete -o default -F _cococtl cococtl
"""


def _bash_case(variable: str, table: dict[str, list[str]], default: str = "") -> str:
    lines = ["    case $1 in"]
    for kind, keys in table.items():
        patterns = "|".join(_quote(k) for k in keys)
        lines.append(f"    {patterns}) {variable}={_quote(kind)} ;;")
    lines.append(f"    *) {variable}={_quote(default)} ;;")
    lines.append("    esac")
    return "\n".join(lines)


def _bash(nodes: list[Node]) -> str:
    groups = [n for n in nodes if n.subcommands]
    out = [_BASH_HEAD]
    out.append("_cococtl_is_group() {\n    case $1 in")
    out.append("    " + "|".join(_quote(n.path) for n in groups) + ") return 0 ;;")
    out.append("    esac\n    return 1\n}\n")
    out.append("_cococtl_subs_of() {\n    case $1 in")
    for node in groups:
        words = " ".join(name for name, _ in node.subcommands)
        out.append(f"    {_quote(node.path)}) _cococtl_subs={_quote(words)} ;;")
    out.append("    *) _cococtl_subs='' ;;\n    esac\n}\n")
    out.append(
        '_cococtl_has_sub() {\n    _cococtl_subs_of "$1"\n    case " $_cococtl_subs " in\n'
        '    *" $2 "*) return 0 ;;\n    esac\n    return 1\n}\n'
    )
    out.append("_cococtl_options_of() {\n    case $1 in")
    for node in nodes:
        words = " ".join(n for o in node.options if not o.hidden for n in _long_names(o))
        out.append(f"    {_quote(node.path)}) _cococtl_opts={_quote(words)} ;;")
    out.append("    *) _cococtl_opts='' ;;\n    esac\n}\n")
    out.append("_cococtl_value() {\n" + _bash_case("kind", _value_table(nodes)) + "\n}\n")
    lines = ["_cococtl_argument() {", "    case $1 in"]
    for key, later, kind in _argument_table(nodes):
        lines.append(f"    {_quote(key)}{'*' if later else ''}) kind={_quote(kind)} ;;")
    lines.append("    *) kind=f ;;\n    esac\n}\n")
    out.append("\n".join(lines))
    out.append(_BASH_MAIN)
    return "\n".join(out)


# --- zsh ----------------------------------------------------------------------------------------------------

_ZSH_MAIN = """\
_cococtl() {
    local path="" w opt="" expect="" npos=0 kind="" i cur=${words[CURRENT]}
    local -a reply
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        if [[ -n $expect ]]; then expect=""; continue; fi
        case $w in
        --) break ;;
        --*=*) continue ;;
        -*)
            _cococtl_value "$path|$w"
            [[ -n $kind ]] && { expect=1; opt=$w; }
            continue
            ;;
        esac
        if _cococtl_is_group "$path" && _cococtl_has_sub "$path" "$w"; then
            path=${path:+$path }$w
            npos=0
        else
            npos=$((npos + 1))
        fi
    done
    if [[ -z $expect && $cur == --*=* ]]; then
        opt=${cur%%=*}
        compset -P '*='
        _cococtl_value "$path|$opt"
        expect=1
    fi
    if [[ -n $expect ]]; then
        _cococtl_value "$path|$opt"
    elif [[ $cur == -* ]]; then
        _cococtl_option_descriptions "$path"
        _describe -t options 'option' reply
        return
    elif _cococtl_is_group "$path" && ((npos == 0)); then
        _cococtl_sub_descriptions "$path"
        _describe -t commands 'cococtl command' reply
        return
    else
        _cococtl_argument "$path|$npos"
    fi
    case $kind in
    w:*) reply=(${=kind#w:}); compadd -a reply ;;
    d) _files -/ ;;
    t) _message 'value' ;;
    x)
        eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _COCOCTL_COMPLETE=complete_zsh ${words[1]} 2>/dev/null)
        ;;
    *) _files ;;
    esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _cococtl "$@"
else
    compdef _cococtl cococtl
fi
"""


def _zsh_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:")


def _zsh(nodes: list[Node]) -> str:
    groups = [n for n in nodes if n.subcommands]
    out = [
        "#compdef cococtl",
        "# zsh completion for cococtl, generated from its command tree by `make completions` (cococtl completion zsh).",
        "# TAB runs no Python: subcommands, options and fixed choices are listed here, file names come from zsh.",
        "",
    ]
    out.append("_cococtl_is_group() {\n    case $1 in")
    out.append("    (" + "|".join(_quote(n.path) for n in groups) + ") return 0 ;;")
    out.append("    esac\n    return 1\n}\n")
    out.append("_cococtl_has_sub() {\n    local -a subs\n    case $1 in")
    for node in groups:
        out.append(f"    ({_quote(node.path)}) subs=({' '.join(name for name, _ in node.subcommands)}) ;;")
    out.append("    esac\n    (( ${subs[(Ie)$2]} ))\n}\n")
    out.append("_cococtl_sub_descriptions() {\n    case $1 in")
    for node in groups:
        items = " ".join(_quote(f"{name}:{_zsh_escape(summary)}") for name, summary in node.subcommands)
        out.append(f"    ({_quote(node.path)}) reply=({items}) ;;")
    out.append("    esac\n}\n")
    out.append("_cococtl_option_descriptions() {\n    case $1 in")
    for node in nodes:
        items = " ".join(
            _quote(f"{name}:{_zsh_escape(option.help)}")
            for option in node.options
            if not option.hidden
            for name in _long_names(option)
        )
        out.append(f"    ({_quote(node.path)}) reply=({items}) ;;")
    out.append("    esac\n}\n")
    lines = ["_cococtl_value() {", "    case $1 in"]
    for kind, keys in _value_table(nodes).items():
        lines.append(f"    ({'|'.join(_quote(k) for k in keys)}) kind={_quote(kind)} ;;")
    lines.append("    (*) kind='' ;;\n    esac\n}\n")
    out.append("\n".join(lines))
    lines = ["_cococtl_argument() {", "    case $1 in"]
    for key, later, kind in _argument_table(nodes):
        lines.append(f"    ({_quote(key)}{'*' if later else ''}) kind={_quote(kind)} ;;")
    lines.append("    (*) kind=f ;;\n    esac\n}\n")
    out.append("\n".join(lines))
    out.append(_ZSH_MAIN)
    return "\n".join(out)


# --- fish ---------------------------------------------------------------------------------------------------

_FISH_MAIN = """\
function __cococtl_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l path ''
    set -l opt ''
    set -l expect ''
    set -l npos 0
    for w in $tokens[2..-1]
        if test -n "$expect"
            set expect ''
            continue
        end
        switch $w
            case '--'
                break
            case '--*=*'
                continue
            case '-*'
                set -l kind (__cococtl_value "$path|$w")
                if test -n "$kind"
                    set expect 1
                    set opt $w
                end
                continue
        end
        if __cococtl_is_group "$path"; and contains -- $w (__cococtl_subs "$path")
            set path (string trim -- "$path $w")
            set npos 0
        else
            set npos (math $npos + 1)
        end
    end
    set -l prefix ''
    if test -z "$expect"; and string match -q -- '--*=*' $cur
        set opt (string replace -r -- '=.*' '' $cur)
        set prefix "$opt="
        set cur (string replace -r -- '^[^=]*=' '' $cur)
        set expect 1
    end
    set -l kind
    if test -n "$expect"
        set kind (__cococtl_value "$path|$opt")
    else if string match -q -- '-*' $cur
        __cococtl_options "$path"
        return
    else if __cococtl_is_group "$path"; and test $npos -eq 0
        __cococtl_sub_descriptions "$path"
        return
    else
        set kind (__cococtl_argument "$path|$npos")
    end
    switch "$kind"
        case 'w:*'
            for word in (string split ' ' -- (string sub -s 3 -- $kind))
                echo "$prefix$word"
            end
        case d
            __fish_complete_directories $cur | string replace -r -- '^' "$prefix"
        case t
            return
        case x
            env _COCOCTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args \\
                _TYPER_COMPLETE_ARGS=(commandline -cp) $tokens[1]
        case '*'
            __fish_complete_path $cur | string replace -r -- '^' "$prefix"
    end
end

complete --command cococtl --no-files --arguments '(__cococtl_complete)'
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(nodes: list[Node]) -> str:
    groups = [n for n in nodes if n.subcommands]
    out = [
        "# fish completion for cococtl, generated from its command tree by `make completions` "
        "(cococtl completion fish).",
        "# TAB runs no Python: subcommands, options and fixed choices are listed here, file names come from fish.",
        "",
        "function __cococtl_is_group",
        "    contains -- $argv[1] " + " ".join(_fish_quote(n.path) for n in groups),
        "end",
        "",
        "function __cococtl_subs",
        "    switch $argv[1]",
    ]
    for node in groups:
        out.append(f"        case {_fish_quote(node.path)}")
        out.append("            printf '%s\\n' " + " ".join(name for name, _ in node.subcommands))
    out += ["    end", "end", "", "function __cococtl_sub_descriptions", "    switch $argv[1]"]
    for node in groups:
        out.append(f"        case {_fish_quote(node.path)}")
        for name, summary in node.subcommands:
            out.append(f"            printf '%s\\t%s\\n' {name} {_fish_quote(summary)}")
    out += ["    end", "end", "", "function __cococtl_options", "    switch $argv[1]"]
    for node in nodes:
        out.append(f"        case {_fish_quote(node.path)}")
        for option in node.options:
            if not option.hidden:
                for name in _long_names(option):
                    out.append(f"            printf '%s\\t%s\\n' {name} {_fish_quote(option.help)}")
    out += ["    end", "end", "", "function __cococtl_value", "    switch $argv[1]"]
    for kind, keys in _value_table(nodes).items():
        out.append("        case " + " ".join(_fish_quote(k) for k in keys))
        out.append(f"            echo {_fish_quote(kind)}")
    out += ["    end", "end", "", "function __cococtl_argument", "    switch $argv[1]"]
    for key, later, kind in _argument_table(nodes):
        out.append(f"        case {_fish_quote(key)}{'*' if later else ''}")
        out.append(f"            echo {_fish_quote(kind)}")
    out += ["        case '*'", "            echo f", "    end", "end", ""]
    out.append(_FISH_MAIN)
    return "\n".join(out)


if __name__ == "__main__":
    write_generated()
