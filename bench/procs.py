"""Process accounting from /proc (psutil is used when installed): CPU seconds, RSS, high-water mark."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

try:  # optional: same numbers, fewer syscalls
    import psutil
except ImportError:  # pragma: no cover - the default on this machine
    psutil = None

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MIB = 1024 * 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (and its reaped children), in seconds; 0 when the process is gone."""
    if psutil is not None:
        try:
            times = psutil.Process(pid).cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is state (field 3); utime/stime are fields 14/15 -> index 11/12
    return (int(fields[11]) + int(fields[12])) / _TICKS


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds of every running `postgres` process (server backends do the database's work).

    Compared before and after a phase; a backend that exits in between takes its time with it,
    which the catalog's pooled, long-lived connections make rare.
    """
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="ascii") as handle:
                if handle.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        found[int(entry)] = cpu_seconds(int(entry))
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `postgres_cpu_seconds` readings."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` in bytes; (0, 0) when the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


@dataclass
class _Track:
    label: str
    peak: int = 0
    last: int = 0
    window_peak: int = 0


@dataclass
class Sampler:
    """Samples VmRSS of every tracked process every `interval` seconds in a background thread."""

    interval: float = 0.2
    tracks: dict[int, _Track] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def track(self, pid: int, label: str) -> None:
        with self._lock:
            self.tracks[pid] = _Track(label)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        with self._lock:
            for pid, track in self.tracks.items():
                rss, _ = memory(pid)
                if rss:
                    track.last = rss
                    track.peak = max(track.peak, rss)
                    track.window_peak = max(track.window_peak, rss)

    def open_window(self) -> None:
        """Start a new measurement window (see `window_peak`)."""
        self.sample()
        with self._lock:
            for track in self.tracks.values():
                track.window_peak = track.last

    def window_peak(self, pid: int) -> int:
        self.sample()
        return self.tracks[pid].window_peak

    def peaks(self) -> dict[str, int]:
        self.sample()
        return {t.label: t.peak for t in self.tracks.values()}

    def current(self) -> dict[str, int]:
        self.sample()
        return {t.label: t.last for t in self.tracks.values()}


def settle_rss(pids: list[int], seconds: float = 2.0) -> dict[int, int]:
    """RSS after `seconds` of quiet (the idle figure)."""
    time.sleep(seconds)
    return {pid: memory(pid)[0] for pid in pids}
