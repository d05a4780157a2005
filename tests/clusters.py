"""A PostgreSQL primary and its streaming replica, started on free ports of this machine.

``pg_basebackup`` needs a replication connection, which the PostgreSQL the tests and benches run on
need not accept (its pg_hba.conf is not theirs to change), so the primary is a throwaway server of
its own. The replica tests (``tests/cxsurvey/test_routers.py``) and the drill
(``bench/drill.py``) use it.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# A throwaway server: no durability, little memory.
SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB"
INITDB = ("-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale")
# -R: the copy starts as a standby that streams from where it was copied.
BASEBACKUP = ("-R", "-X", "stream", "-c", "fast", "--no-sync")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    primary_port: int
    replica_port: int
    binaries: Path

    def run(self, program: str, *arguments: str, **options) -> None:
        """One of PostgreSQL's programs, as the postgres user when we are root (initdb and the
        server refuse to run as root)."""
        as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        command = [*as_owner, str(self.binaries / program), *arguments]
        subprocess.run(command, check=True, timeout=60, **options)

    def connection_options(self) -> list[str]:
        """psql's and pg_dump's options for the primary."""
        return ["-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"]


@contextmanager
def streaming_cluster(major: int, *, seed: Callable[[Cluster], None] | None = None) -> Iterator[Cluster]:
    """A primary and its streaming replica of PostgreSQL ``major`` on free ports, both trusting
    local connections; stopped and deleted at the end, also when starting them failed. ``seed``
    writes on the primary before the replica is copied from it, so the replica starts with it."""
    folder = Path(tempfile.mkdtemp(prefix="cxsurvey-replica-"))
    if os.getuid() == 0:
        shutil.chown(folder, "postgres")
    cluster = Cluster(free_port(), free_port(), Path(f"/usr/lib/postgresql/{major}/bin"))

    def start(name: str, port: int) -> None:
        server = f"-p {port} -k {folder} {SERVER_OPTIONS}"
        log = str(folder / f"{name}.log")
        arguments = ["-D", str(folder / name), "-l", log, "-o", server, "-w", "start"]
        cluster.run("pg_ctl", *arguments, stdout=subprocess.DEVNULL)

    try:
        cluster.run("initdb", "-D", str(folder / "primary"), *INITDB, stdout=subprocess.DEVNULL)
        start("primary", cluster.primary_port)
        if seed:
            seed(cluster)
        replica = str(folder / "replica")
        cluster.run("pg_basebackup", *cluster.connection_options(), "-D", replica, *BASEBACKUP)
        start("replica", cluster.replica_port)
        yield cluster
    finally:
        for name in ("replica", "primary"):
            if (folder / name / "postmaster.pid").exists():
                cluster.run(
                    "pg_ctl", "-D", str(folder / name), "-m", "immediate", "stop", stdout=subprocess.DEVNULL
                )
        shutil.rmtree(folder)
