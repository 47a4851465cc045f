"""What the benchmark scripts share: the loopback demo server, child processes, medians."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "benchmark-key-0123456789"


@functools.cache
def _scratch() -> Path:
    """A folder for this run's files (the children's scan database), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="basket-benchmark-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: the repository importable without installing it, no BASKET_*
    settings from the caller's shell, no proxy for the loopback server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    # The CLI audits and stores every scan; measurements must not grow a log or a database in
    # the working tree.
    env["BASKET_AUDIT_LOG"] = os.devnull
    env["BASKET_DATABASE_URL"] = f"sqlite:///{_scratch() / 'scans.db'}"
    env.update(extra)
    return env


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [0] is the state, [1] the parent's
    pid, [11] and [12] the user and system CPU in clock ticks. Raises OSError once it is gone."""
    # The command name is in parentheses and may itself hold spaces or ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process `pid` has used so far (Linux /proc)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux /proc)."""
        return cpu_seconds(self.process.pid)


@contextmanager
def demo_server(latency_ms: float) -> Iterator[Server]:
    """`python -m basket_lib.simulator` on a free loopback port, as its own process."""
    command = [
        sys.executable,
        "-m",
        "basket_lib.simulator",
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
        "--api-key",
        API_KEY,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise RuntimeError(f"the demo server did not start (exit {process.wait()})")
        yield Server(process, base_url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Run:
    """One child process: its wall time (start to exit), CPU time, peak RSS and stdout."""

    wall: float
    cpu: float
    max_rss_mib: float
    stdout: str


def run_child(
    command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """Run `command` to its end; its own rusage comes from wait4, not the children's total."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd or ROOT,
            env=env or child_env(),
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{stdout}")
    # ru_maxrss is in KiB on Linux.
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout)


def users_file(directory: Path, count: int, name: str | None = None) -> Path:
    """Seeded demo users user-00001 ... (about a third with a checkout, some failing)."""
    path = directory / (name or f"users-{count}.txt")
    path.write_text("".join(f"user-{n:05d}\n" for n in range(1, count + 1)), encoding="utf-8")
    return path


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def python() -> str:
    return sys.executable
