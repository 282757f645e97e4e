"""The production wheel: the service without the development tools (both sandboxes, the demo).

Builds the wheel exactly as a release would (``pip wheel . --no-deps``), then runs the unpacked wheel
ahead of this checkout on ``sys.path``: every production module imports without a sandbox, and the
commands that need one say so in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from worker.devtools import DEVELOPMENT_MODULES

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = ("sandboxes/", *(name.replace(".", "/") + "/" for name in DEVELOPMENT_MODULES))

pytestmark = pytest.mark.slow  # builds a wheel in an isolated environment (hatchling), ~30 s


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], Path]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "--disable-pip-version-check",
         "-w", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("dropsync-*.whl")
    unpacked = out / "unpacked"
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        archive.extractall(unpacked)
    return names, unpacked


def _production_sources() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in ("worker", "integrations", "models")
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix in (".py", ".graphql", ".gz") and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_service_and_no_sandbox_or_demo(wheel: tuple[set[str], Path]) -> None:
    names, _ = wheel
    shipped_tools = sorted(name for name in names if name.startswith(EXCLUDED))
    assert not shipped_tools, f"development tools in the production wheel: {shipped_tools[:5]}"
    missing = sorted(_production_sources() - names)
    assert not missing, f"production files missing from the wheel: {missing[:10]}"
    assert "integrations/shopify/schema/admin_2026-10.json.gz" in names  # cost estimates need it at run time
    assert "worker/stack.py" in names  # `dropsync up` with a real shop


def _run_from_wheel(unpacked: Path, code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The unpacked wheel comes first on sys.path and the editable checkout's .pth entry is taken off it (a
    # production install has no checkout: its top-level ``sandboxes`` package must not be found there);
    # the working directory is empty, so nothing of the checkout is importable by accident.
    env = {**os.environ, "PYTHONPATH": str(unpacked), "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
    env.pop("SHOPIFY_ACCESS_TOKEN", None)
    isolate = f"import sys\nsys.path[:] = [p for p in sys.path if p.rstrip('/') != {str(ROOT)!r}]\n"
    return subprocess.run(
        [sys.executable, "-c", isolate + code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_checkout_is_not_importable_from_the_wheels_process(wheel: tuple[set[str], Path], tmp_path: Path) -> None:
    _, unpacked = wheel
    code = "import importlib.util\nassert importlib.util.find_spec('sandboxes') is None, 'the checkout leaks in'\n"
    result = _run_from_wheel(unpacked, code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_production_module_imports_without_the_sandboxes(wheel: tuple[set[str], Path], tmp_path: Path) -> None:
    names, unpacked = wheel
    modules = sorted(
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in names
        if name.endswith(".py") and not name.endswith("__main__.py")
    )
    code = (
        "import importlib, worker\n"
        f"assert worker.__file__.startswith({str(unpacked)!r}), worker.__file__\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
    )
    result = _run_from_wheel(unpacked, code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize(
    "argv",
    [["demo", "--data-dir", "demo"], ["sandbox", "shopify", "--port", "0"], ["sandbox", "aliexpress"],
     ["up", "--data-dir", ".", "--port", "0"]],
)  # fmt: skip
def test_commands_that_need_a_sandbox_say_so_in_one_line(
    wheel: tuple[set[str], Path], tmp_path: Path, argv: list[str]
) -> None:
    _, unpacked = wheel
    code = f"import sys\nfrom worker.cli.main import main\nsys.argv = ['dropsync', *{argv!r}]\nmain()\n"
    result = _run_from_wheel(unpacked, code, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("dropsync: the sandboxes are development tools: install dropsync from a checkout")
    assert "Traceback" not in result.stderr
