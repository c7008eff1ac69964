"""Lists the files and directories a local-cloud service would use, read from its config.

Run with the local cloud's venv: ``config_paths.py PROJECT NAMESPACE[,NAMESPACE...]
CONFIG_FILE...``.
Registers every option of the service's own oslo.config namespace and of the libraries
in the venv (the namespaces their ``oslo.config.opts`` entry points declare), parses the
service's generated config files as the service does, and prints, as JSON, every option
whose value is an absolute path, plus every relative file option (such as
``policy_file``) that oslo.config would find in the default search dirs (/etc/PROJECT
and friends). A fresh machine has none of those dirs, so a path outside the cloud's
state dir is state that only an older machine has (the keystone receipts key
repository was one).
"""

from __future__ import annotations

import contextlib
import json
import sys
from importlib.metadata import entry_points
from typing import Any

from oslo_config import cfg, generator

# The libraries every service here loads options from (oslo.config's own command-line
# options are already in every ConfigOpts).
LIBRARY_PREFIXES = ("oslo.", "keystonemiddleware.auth_token", "os_vif", "osprofiler")


def namespaces(own: str) -> list[str]:
    """The libraries' namespaces and the service's own (comma-separated: an agent reads
    options of several of its project's namespaces)."""
    names = {ep.name for ep in entry_points(group="oslo.config.opts")}
    libraries = {n for n in names if n.startswith(LIBRARY_PREFIXES) and n != "oslo.config"}
    return sorted(libraries | set(own.split(",")))


def load(project: str, own: str, files: list[str]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    for _namespace, groups in generator._list_opts(namespaces(own)):
        for group, opts in groups:
            group_name = getattr(group, "name", group) or None
            for opt in opts:
                # two libraries may declare the same option differently: the first wins
                with contextlib.suppress(cfg.DuplicateOptError):
                    conf.register_opt(opt, group=None if group_name == "DEFAULT" else group_name)
    # options a service only needs for a feature it does not use (oslo_limit's auth_url)
    # are not this check's business
    conf._check_required_opts = lambda namespace=None: None  # type: ignore[method-assign]
    conf(args=[], project=project, default_config_files=files, default_config_dirs=[])
    return conf


def paths(conf: cfg.ConfigOpts) -> list[list[str]]:
    found: list[list[str]] = []

    def check(where: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str) or not item:
                continue
            if item.startswith("/"):
                found.append([where, item])
            elif where.endswith(("policy_file", "config_file", "api_paste_config")):
                located = conf.find_file(item)
                if located:
                    found.append([where, located])

    for group in [None, *sorted(conf._groups)]:  # every registered group, set or not
        opts = conf._opts if group is None else conf._groups[group]._opts
        for name in opts:
            try:
                value = conf[name] if group is None else conf[group][name]
            except Exception:  # an interpolation of an unset value: not a path
                continue
            check(f"{group or 'DEFAULT'}.{name}", value)
    return found


def main() -> None:
    project, own, *files = sys.argv[1:]
    print(json.dumps(paths(load(project, own, files))))


if __name__ == "__main__":
    main()
