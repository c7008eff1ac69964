"""The renderer's output, byte for byte, against the files checked in under tests/golden/.

A change to a template or to render.py shows up here as a diff; when the change is
meant, rewrite the golden files and commit them with it:

    python -m tests.golden.regenerate
"""

from __future__ import annotations

import difflib
import re

import pytest

from tests.golden.regenerate import (
    FAKE_AUTH_PASS,
    ROOT,
    VARIANTS,
    golden_files,
    render_variant,
)

REGENERATE = "python -m tests.golden.regenerate"
GOLDEN = golden_files()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_rendering_matches_the_golden_files(variant: str) -> None:
    rendered = {f"{variant}/{key}": text for key, text in render_variant(variant).items()}
    golden = {key: text for key, text in GOLDEN.items() if key.startswith(f"{variant}/")}
    problems = [f"missing golden file {key}" for key in sorted(set(rendered) - set(golden))]
    problems += [f"golden file {key} is no longer rendered"
                 for key in sorted(set(golden) - set(rendered))]
    for key in sorted(set(rendered) & set(golden)):
        if rendered[key] != golden[key]:
            problems.append("".join(difflib.unified_diff(
                golden[key].splitlines(keepends=True), rendered[key].splitlines(keepends=True),
                fromfile=f"tests/golden/{key}", tofile=f"rendered {key}")))
    if problems:
        pytest.fail("\n".join(problems) + f"\nIf this change is meant, run {REGENERATE} and "
                    "commit the golden files with it.", pytrace=False)


def test_every_golden_folder_is_a_variant() -> None:
    stale = sorted({key.split("/", 1)[0] for key in GOLDEN} - set(VARIANTS))
    assert not stale, f"golden folders of no variant: {stale}; run {REGENERATE}"


def test_the_only_secret_in_the_golden_files_is_the_fake_one() -> None:
    passwords = {line.split()[1] for text in GOLDEN.values() for line in text.splitlines()
                 if line.split()[:1] == ["auth_pass"]}
    assert passwords == {FAKE_AUTH_PASS}


def test_shipped_files_name_only_documents_of_the_project() -> None:
    """A member gets no pointer to a document the repository does not hold."""
    named = {name for text in GOLDEN.values() for name in re.findall(r"[\w./-]+\.md\b", text)}
    assert named and all((ROOT / name).is_file() for name in named), named
