"""cloud-init's own schema validator, kept running for many documents.

`cloud-init schema --config-file F` spends about a second importing cloud-init
for every file. Run as a script (by Debian's python3, which has cloud-init), this
module answers one JSON line per document with what the same function of the
same cloud-init says: `validate_cloudconfig_file(path, get_schema())`, the call
`cloud-init schema` makes. `SchemaValidator` is the tests' side of the pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"


class SchemaValidator:
    """One long-lived validator process; `check(text)` returns None or the error."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([SYSTEM_PYTHON, __file__], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)

    def check(self, user_data: str) -> str | None:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(user_data) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._process.stdout.readline())
        return None if answer["valid"] else answer["error"]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def _serve() -> None:
    from cloudinit.config.schema import (
        SchemaValidationError,
        get_schema,
        validate_cloudconfig_file,
    )

    # cloud-init prints remarks on stdout ("Cloud config schema deprecations: "):
    # answers get their own copy of the pipe, and stdout goes to /dev/null.
    answers = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    schema = get_schema()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "user-data"
        for line in sys.stdin:
            path.write_text(json.loads(line))
            try:
                validate_cloudconfig_file(str(path), schema)
                answer = {"valid": True, "error": ""}
            except (SchemaValidationError, RuntimeError) as error:
                answer = {"valid": False, "error": str(error)}
            print(json.dumps(answer), file=answers, flush=True)


if __name__ == "__main__":
    _serve()
