"""Family `disk`: block-device throughput and IOPS (rates of /proc/diskstats counters), filesystem usage.

Devices matching `--disk-exclude` (default: loop, ram, zram, floppy, CD-ROM devices and partitions of
sdX/vdX/xvdX/hdX/nvme/mmcblk disks, whose I/O their disk already counts) are left out of both the
per-device metrics and the totals.

Filesystems: the mounts psutil lists as physical (`disk_partitions(all=False)`: block-device file
systems from /proc/filesystems, so no tmpfs, overlay, proc, nfs, …), minus read-only image formats
that are always 100 % full (squashfs snaps, ISO images), one mount per device (bind mounts and the
extra views systemd sandboxing creates show the same file system again).
"""

from __future__ import annotations

from typing import Any

import psutil

from producer.samplers._counters import DECIMALS, Counters, excluded, read_text, total_rates
from producer.samplers.base import MetricSpec, Options, Sampler, register

# diskstats field -> metric suffix
_IO_FIELDS = {
    "read_bytes": "read_bytes_per_s",
    "write_bytes": "write_bytes_per_s",
    "read_count": "reads_per_s",
    "write_count": "writes_per_s",
}
# Block-device file systems that are not worth a "used %": read-only images (always full).
SKIPPED_FS_TYPES = frozenset({"squashfs", "iso9660", "udf", "erofs", "cramfs", "romfs"})
# Belt and braces: psutil already leaves out every `nodev` type, but a container may hide /proc/filesystems.
PSEUDO_FS_TYPES = frozenset(
    {"tmpfs", "devtmpfs", "ramfs", "overlay", "aufs", "proc", "sysfs", "cgroup", "cgroup2", "devpts", "nsfs"}
)


def fs_used_percent(st: object) -> float | None:
    """Used % the way `df` shows it: used / (used + available to unprivileged users) × 100.

    Blocks reserved for root count as neither, so a full disk reads 100 % even with root's reserve left.
    """
    frsize = getattr(st, "f_frsize", 0) or getattr(st, "f_bsize", 0)
    used = (st.f_blocks - st.f_bfree) * frsize  # type: ignore[attr-defined]
    avail = st.f_bavail * frsize  # type: ignore[attr-defined]
    if used + avail <= 0:
        return None
    return round(used / (used + avail) * 100.0, DECIMALS)


@register
class DiskSampler(Sampler):
    family = "disk"
    metrics = (
        MetricSpec("disk.read_bytes_per_s", "bytes/s", "rate", "bytes read per second, all reported devices"),
        MetricSpec("disk.write_bytes_per_s", "bytes/s", "rate", "bytes written per second, all reported devices"),
        MetricSpec("disk.reads_per_s", "/s", "rate", "read operations completed per second, all reported devices"),
        MetricSpec("disk.writes_per_s", "/s", "rate", "write operations completed per second, all reported devices"),
        MetricSpec("disk.<device>.read_bytes_per_s", "bytes/s", "rate", "bytes read per second from one device"),
        MetricSpec("disk.<device>.write_bytes_per_s", "bytes/s", "rate", "bytes written per second to one device"),
        MetricSpec("disk.<device>.reads_per_s", "/s", "rate", "read operations per second on one device"),
        MetricSpec("disk.<device>.writes_per_s", "/s", "rate", "write operations per second on one device"),
        MetricSpec("fs.<mount>.used_percent", "%", "gauge", "used space of the file system mounted there, as `df`"),
        MetricSpec("fs.max_used_percent", "%", "gauge", "the fullest reported file system's used %"),
    )

    def __init__(self, options: Options | None = None) -> None:
        super().__init__(options)
        self._counters = Counters()
        self._mounts: str | None = None  # the mount table _parts was made from
        self._parts: list[Any] = []

    def prime(self) -> None:
        self._io_rates()

    def _io_rates(self) -> dict[str, float]:
        # nowrap=False: psutil's wrap correction keeps module-global state and turns a device that was
        # replaced under the same name into one huge jump; Counters treats going backwards as a reset.
        per_disk = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
        now = self.options.clock()
        readings = {}
        for device, io in per_disk.items():
            if excluded(device, self.options.disk_exclude):
                continue
            for field in _IO_FIELDS:
                readings[f"{device}.{field}"] = float(getattr(io, field))
        return self._counters.update(readings, now)

    def sample(self) -> dict[str, float]:
        rates = self._io_rates()
        out = {f"disk.{suffix}": v for suffix, v in _renamed(total_rates(rates, _IO_FIELDS)).items()}
        if self.options.per_device:
            for key, value in rates.items():
                device, _, field = key.rpartition(".")
                out[f"disk.{device}.{_IO_FIELDS[field]}"] = value
        out.update(self._filesystems())
        return out

    def _partitions(self) -> list[Any]:
        """The mounts to report, one per device. psutil's listing costs ~10× reading the mount table,
        so it is redone only when /proc/self/mounts has changed."""
        try:
            key: str | None = read_text("self/mounts")
        except OSError:
            key = None
        if key is None or key != self._mounts:
            parts, seen = [], set()
            for part in psutil.disk_partitions(all=False):
                if part.fstype in SKIPPED_FS_TYPES or part.fstype in PSEUDO_FS_TYPES or part.device in seen:
                    continue
                seen.add(part.device)
                parts.append(part)
            self._parts, self._mounts = parts, key
        return self._parts

    def _filesystems(self) -> dict[str, float]:
        out: dict[str, float] = {}
        fullest: float | None = None
        for part in self._partitions():
            try:
                percent = fs_used_percent(self.options.statvfs(part.mountpoint))
            except OSError:  # unmounted meanwhile, or not ours to look at
                continue
            if percent is None:
                continue
            fullest = percent if fullest is None else max(fullest, percent)
            if self.options.per_device:
                out[f"fs.{part.mountpoint}.used_percent"] = percent
        if fullest is not None:
            out["fs.max_used_percent"] = fullest
        return out


def _renamed(by_field: dict[str, float]) -> dict[str, float]:
    return {_IO_FIELDS[field]: value for field, value in by_field.items()}
