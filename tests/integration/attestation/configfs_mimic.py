"""A user-space stand-in for Linux configfs-tsm on a real file system (test helper).

configfs does two things no ordinary file system does: ``mkdir`` creates an item's attribute files
and ``rmdir`` drops them. :class:`MimicConfigfs` does those two (it is the provider's
``ConfigfsItems``); everything else the provider does is plain file IO on real files:

* ``inblob`` is a regular file the provider writes its 64 bytes into;
* ``outblob`` is a FIFO, so reading it blocks until a kernel thread has produced the quote, as the
  real ``read(2)`` blocks while the host's Quote Generation Service works;
* the kernel thread reads ``inblob``, writes ``generation`` and the quote: a real TDX quote (from the
  vectors) with the report data spliced into REPORTDATA.

Each entry's behaviour is scripted: ``"tdx"`` (the normal case), ``"race"`` (another writer
rewrites inblob before the quote is produced, so generation reads 2), ``"sev"`` (the provider
attribute says ``sev_guest``) and ``"eio"`` (outblob is a symlink to ``/proc/self/mem``, whose
first page is unmapped, so the kernel answers ``read(2)`` with a genuine EIO).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from pathlib import Path

REPORT_DATA_OFFSET = 568  # v4 quote: header 48 + REPORTDATA at 520 in the TD report
ATTRIBUTES = ("inblob", "outblob", "provider", "generation")


class MimicConfigfs:
    def __init__(self, root: Path, template_quote: bytes) -> None:
        root.mkdir(parents=True)
        self.root = root
        self.template = template_quote
        self.script: deque[str] = deque()
        self.created: list[str] = []
        self.report_data_seen: list[bytes] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ConfigfsItems: what mkdir(2) and rmdir(2) do on configfs.

    def create(self, path: Path) -> None:
        os.mkdir(path, 0o700)
        with self._lock:
            behaviour = self.script.popleft() if self.script else "tdx"
            self.created.append(behaviour)
        (path / "inblob").write_bytes(b"")
        (path / "provider").write_text("sev_guest\n" if behaviour == "sev" else "tdx_guest\n")
        (path / "generation").write_text("0\n")
        if behaviour == "eio":
            os.symlink("/proc/self/mem", path / "outblob")
            return
        os.mkfifo(path / "outblob")
        thread = threading.Thread(target=self._kernel, args=(path, behaviour), daemon=True)
        self._threads.append(thread)
        thread.start()

    def remove(self, path: Path) -> None:
        for name in ATTRIBUTES:
            (path / name).unlink(missing_ok=True)
        os.rmdir(path)

    def join(self, timeout: float = 5.0) -> None:
        for thread in self._threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a mimic kernel thread is stuck"

    # The kernel's side of one entry.

    def _kernel(self, path: Path, behaviour: str) -> None:
        fifo = path / "outblob"
        while True:  # wait for a reader, or for the entry to disappear
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.001)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as outblob:
            report_data = (path / "inblob").read_bytes()
            generation = 1
            if behaviour == "race":
                (path / "inblob").write_bytes(b"\xee" * 64)
                generation = 2
            with self._lock:
                self.report_data_seen.append(report_data)
            (path / "generation").write_text(f"{generation}\n")
            if len(report_data) == 64:
                outblob.write(
                    self.template[:REPORT_DATA_OFFSET]
                    + report_data
                    + self.template[REPORT_DATA_OFFSET + 64 :]
                )
