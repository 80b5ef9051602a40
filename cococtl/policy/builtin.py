"""Trustee's built-in resource policies (kbs/sample_policies), written out here."""

from __future__ import annotations

DEFAULT = """package policy

default allow = false

plugin = data.plugin

allow if {
    plugin == "resource"
    not input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["sample"]
}
"""

ALLOW_ALL = """package policy

default allow = false

plugin = data.plugin

allow if {
    plugin == "resource"
}
"""

DENY_ALL = """package policy

default allow = false
"""

AFFIRMING = """package policy

import rego.v1

default allow = false

allow if {
    count(input.submods) > 0
    every submod in input.submods {
        submod["ear.status"] == "affirming"
    }
}
"""

BUILTIN = {"default": DEFAULT, "allow-all": ALLOW_ALL, "deny-all": DENY_ALL, "affirming": AFFIRMING}
