"""What a rendered file may contain: the template's own lines, in the template's order.

A template line becomes a pattern: its literal text as is, each `{{ value }}` one
escaped word of the file's kind, an inline `{% if %}...{% endif %}` optional.
A rendered file fits its template when each of its lines matches a template line
and the matched lines never go backwards (conditionals skip lines, loops repeat
one). Anything else (an injected directive, a second command, a broken-out
comment) is a line the template does not make.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from vrrp_pair import render

from tests import REPO_TEMPLATES

# One value, as each kind's escaper writes it (components/render.py).
VALUE = {
    ".conf.j2": r"[A-Za-z0-9_.:/-]+",
    ".sh.j2": r"(?:[A-Za-z0-9_@%+=:,./-]+|'(?:[^'\n]|'\"'\"')*')",
    ".html.j2": r"[^<>&\"'\n]*",
}
_TAG = re.compile(r"\{%-?\s*(\w+)[^%]*?-?%\}|\{\{.*?\}\}")


def _kind(template: str) -> str:
    return next(kind for kind in VALUE if template.endswith(kind))


@cache
def line_patterns(template: str) -> tuple[re.Pattern[str], ...]:
    """One pattern per template line that can produce output."""
    value = VALUE[_kind(template)]
    patterns = []
    for line in (REPO_TEMPLATES / template).read_text().splitlines():
        parts, depth, position = [], 0, 0
        for tag in _TAG.finditer(line):
            parts.append(re.escape(line[position:tag.start()]))
            position = tag.end()
            keyword = tag.group(1)
            if keyword is None:
                parts.append(value)
            elif keyword == "if":
                parts.append("(?:")
                depth += 1
            elif keyword in ("elif", "else") and depth:
                parts.append("|")
            elif keyword == "endif" and depth:
                parts.append(")?")
                depth -= 1
        parts.append(re.escape(line[position:]))
        only_tags = "{%" in line and "{{" not in line and not _TAG.sub("", line).strip()
        if only_tags:
            # trim_blocks and lstrip_blocks (render.py): a line of tags writes nothing.
            continue
        if depth == 0:
            patterns.append(re.compile("".join(parts)))
    return tuple(patterns)


def misfits(template: str, text: str) -> list[str]:
    """The lines of `text` the template cannot make (in order, no going back)."""
    patterns = line_patterns(template)
    index, bad = 0, []
    for line in text.splitlines():
        match = next((i for i in range(index, len(patterns))
                      if patterns[i].fullmatch(line)), None)
        if match is None:
            bad.append(line)
        else:
            index = match
    return bad


# Which template makes each written file (the interface script is copied as is).
TEMPLATE_OF = {
    render.APACHE_PORTS: "apache-ports.conf.j2",
    render.APACHE_SITE: "apache-site.conf.j2",
    render.INDEX_HTML: "index.html.j2",
    render.CHECK_SCRIPT: "check-web.sh.j2",
    render.GATEWAY_SCRIPT: "check-gateway.sh.j2",
    render.MEMBER_CHECK_SCRIPT: "check-member.sh.j2",
    render.KEEPALIVED_CONF: "keepalived.conf.j2",
}


def skeleton(document: dict[str, Any], own_address: str) -> dict[str, Any]:
    """The cloud-config with what legitimately varies taken out: the file contents
    (checked line by line against their templates), the key, the mirror URL and the
    member's own address in runcmd."""
    shape: dict[str, Any] = {key: value for key, value in document.items()
                             if key not in ("write_files", "runcmd", "apt")}
    shape["write_files"] = [{k: v for k, v in entry.items() if k != "content"}
                            for entry in document.get("write_files", [])]
    shape["runcmd"] = [["<own address>" if word == own_address else word for word in command]
                       if isinstance(command, list) else command
                       for command in document.get("runcmd", [])]
    if "apt" in document:
        apt = dict(document["apt"])
        apt["sources_list"] = re.sub(r" \S+ \$RELEASE", " <mirror> $RELEASE",
                                     apt["sources_list"])
        shape["apt"] = apt
    return shape
