"""Drive ``dropsync`` as a real process, the way an operator or a script does."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DROPSYNC = str(Path(sys.executable).with_name("dropsync"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def assert_one_line_error(self, code: int) -> None:
        """An error is one clear line on stderr and the given exit code, never a traceback."""
        assert self.code == code, (self.code, self.out, self.err)
        assert "Traceback" not in self.err + self.out, self.err
        assert len(self.err.strip().splitlines()) == 1, self.err


def dropsync(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    """Run ``dropsync ARGS`` with the test environment (DATABASE_URL of the session's database)."""
    full_env = {**os.environ, "COLUMNS": "200", "DROPSYNC_LOG_FORMAT": "console", **(env or {})}
    done = subprocess.run([DROPSYNC, *args], env=full_env, capture_output=True, text=True, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)
