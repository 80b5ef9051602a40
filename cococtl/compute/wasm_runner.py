"""Run a WASI module (``python -m cococtl.compute.wasm_runner [--with-datasets] MODULE [ARGS…]``) in the work dir.

A separate process so the parent can enforce the timeout and stream output. By default the module sees exactly
what Cocos' WasmEdge invocation gives it (cocos agent/algorithm/wasm/wasm.go: ``wasmedge --dir .:results MODULE
ARGS…``): one preopen, guest ``.`` = host ``results/``, and argv[0] the module's path. ``--with-datasets`` also
preopens ``datasets`` and ``results`` by name (a cococtl extension: a module relying on it will not run in Cocos).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from wasmtime import Engine, ExitTrap, Linker, Module, Store, WasiConfig, WasmtimeError

    with_datasets = bool(argv) and argv[0] == "--with-datasets"
    if with_datasets:
        argv = argv[1:]
    if not argv:
        print("usage: wasm_runner [--with-datasets] MODULE [ARGS...]", file=sys.stderr)
        return 2
    engine = Engine()
    config = WasiConfig()
    config.argv = [argv[0], *argv[1:]]
    config.inherit_stdout()
    config.inherit_stderr()
    config.preopen_dir("results", ".")
    if with_datasets:
        config.preopen_dir("results", "results")
        config.preopen_dir("datasets", "datasets")
    store = Store(engine)
    store.set_wasi(config)
    linker = Linker(engine)
    linker.define_wasi()
    try:
        with open(argv[0], "rb") as handle:
            code = handle.read()
        # Cocos accepts *.wat as well as *.wasm; text modules are compiled here.
        module = Module(engine, code if code.startswith(b"\0asm") else code.decode("utf-8"))
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        start(store)  # type: ignore[operator]
    except ExitTrap as exit_trap:
        return int(exit_trap.code)
    except (WasmtimeError, KeyError) as error:
        print(f"wasm: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
