"""Writes docs/variables.md from the roles' argument specs, the one source of every pymigrate_* variable
(`make docs`; tests/unit/test_contracts.py keeps the file in sync)."""

import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(ROOT, "docs", "variables.md")


def _text(value):
    text = " ".join(value) if isinstance(value, list) else str(value)
    text = re.sub(r"\b[OCVMP]\(([^)]*)\)", r"`\1`", text)  # Ansible markup to Markdown code
    return text.replace("|", "\\|")


def render():
    lines = ["# Variables", "",
             "Generated from `roles/*/meta/argument_specs.yml` by `tests/tools/variables_doc.py` (`make docs`); do not",
             "edit by hand. Every `pymigrate_*` variable a playbook or a role reads is here, under the role entry",
             "point that declares it (`tests/unit/test_contracts.py` checks both). A variable without a default is",
             "either **required** or read from the inventory or extra vars (inventory): those of the bundle role are",
             "the inventory contract, each host's own; `pymigrate_hosts`, `pymigrate_serial` and",
             "`pymigrate_max_fail_percentage` (the run role's) are play keywords, read from extra vars before any",
             "role.",
             ""]
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        lines += ["## Role `airgap.pymigrate.%s`" % role, ""]
        seen = set()
        for entry_point, spec in specs.items():
            options = {k: v for k, v in (spec.get("options") or {}).items() if k not in seen}
            seen.update(options)
            lines += ["Entry point `%s`: %s" % (entry_point, _text(spec.get("short_description", ""))), ""]
            if not options:
                lines += ["Same variables as above.", ""]
                continue
            lines += ["| variable | type | default | description |", "|---|---|---|---|"]
            for name, option in sorted(options.items()):
                kind = option.get("type", "str") + ("/" + option["elements"] if option.get("elements") else "")
                if option.get("choices"):
                    kind += " (%s)" % ", ".join(str(c) for c in option["choices"])
                default = ("**required**" if option.get("required") else
                           "`%s`" % json.dumps(option["default"]) if "default" in option else "inventory")
                lines.append("| `%s` | %s | %s | %s |" % (name, kind, default, _text(option.get("description", ""))))
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    with open(PATH, "w") as out:
        out.write(render())
    sys.exit(0)
