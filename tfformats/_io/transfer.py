"""Move byte ranges between files quickly: kernel-side copies and checksums of file ranges.

Copying a stored tensor unchanged (``tfformats edit``, export to safetensors)
need not bring its bytes into Python: ``os.copy_file_range`` copies inside the
kernel, at the speed of ``cp``. Where the kernel refuses (another file system,
an old kernel), ``os.sendfile`` and then ``pread``/``pwrite`` through one
reusable buffer take over. The crc32c that checks the source bytes is computed
from the source file on a second thread while the copy runs (crc32c releases
the GIL), reading through a small buffer so memory stays bounded.
"""

from __future__ import annotations

import errno
import os
import threading
from concurrent.futures import Future
from typing import BinaryIO, Optional

from .. import checksums
from ..errors import FormatError
from .threads import worker

# Ranges at least this large are copied by the kernel; smaller ones are read and
# written through the destination's buffer (fewer system calls per tensor).
KERNEL_COPY_MIN = 1 << 20
# The kernel copies a range about 1.4x faster when source and destination
# offsets agree modulo this size (whole page-cache blocks move as units), so
# writers that may leave gaps line copied ranges up with their source.
COPY_ALIGN = 64 << 10
# Largest single write. Linux backs a large write with large page-cache folios,
# which can be far slower to allocate than small pages: writing 1 GiB from memory
# measured 2.5 s as one call per 128 MiB tensor and 0.22 s in 256 KiB calls (ext4,
# kernel 6.18). Smaller pieces cost nothing measurable in system-call overhead.
WRITE_PIECE = 256 << 10
# Buffer for checksums and for the last-resort read/write copy: small enough to
# stay in the CPU cache, large enough that per-call overhead does not matter.
_BUFFER = WRITE_PIECE
# Errors after which the next, plainer way of copying is tried.
_FALLBACK = {errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF,
             errno.EPERM, errno.ETXTBSY, errno.EOVERFLOW, errno.ESPIPE}

_local = threading.local()
_kernel_copy = hasattr(os, "copy_file_range")
_sendfile = hasattr(os, "sendfile")


def _buffer() -> memoryview:
    """A per-thread scratch buffer."""
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(_BUFFER))
    return buf


def _ends_early(path: str, offset: int, missing: int) -> FormatError:
    return FormatError(f"file ends {missing} bytes early", path, offset)


def write_all(f: BinaryIO, data: bytes | bytearray | memoryview) -> int:
    """Write ``data`` to ``f`` in pieces of at most WRITE_PIECE bytes; return the byte count."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    n = len(view)
    if n <= WRITE_PIECE:
        f.write(view)
        return n
    for start in range(0, n, WRITE_PIECE):
        f.write(view[start:start + WRITE_PIECE])
    return n


def read_exact(fd: int, offset: int, size: int, *, path: str = "") -> bytes:
    """``size`` bytes of ``fd`` at ``offset`` (FormatError naming ``path`` when the file is shorter)."""
    data = os.pread(fd, size, offset)
    if len(data) == size:
        return data
    parts = [data]
    done = len(data)
    while done < size:
        more = os.pread(fd, size - done, offset + done)
        if not more:
            raise _ends_early(path, offset + done, size - done)
        parts.append(more)
        done += len(more)
    return b"".join(parts)


def range_crc32c(fd: int, offset: int, size: int, *, path: str = "") -> int:
    """The (unmasked) crc32c of ``size`` bytes of ``fd`` at ``offset``."""
    buf = _buffer()
    crc = 0
    done = 0
    while done < size:
        n = os.preadv(fd, [buf[:min(len(buf), size - done)]], offset + done)
        if n <= 0:
            raise _ends_early(path, offset + done, size - done)
        crc = checksums.crc32c(buf[:n], crc)
        done += n
    return crc


def range_crc32c_in_background(fd: int, offset: int, size: int, *, path: str = "") -> "Future[int]":
    """Start :func:`range_crc32c` on the second thread."""
    return worker("checksum").submit(range_crc32c, fd, offset, size, path=path)


def crc32c_in_background(data: bytes | bytearray | memoryview, value: int = 0) -> "Future[int]":
    """Start the (unmasked) crc32c of an in-memory buffer, continuing from ``value``, on the second thread."""
    return worker("checksum").submit(checksums.crc32c, data, value)


def _copy_kernel(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int, size: int) -> int:
    """Copy with copy_file_range; return how many bytes were copied before it stopped or was refused."""
    global _kernel_copy
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(src_fd, dst_fd, size - done, src_offset + done, dst_offset + done)
        except OSError as exc:
            if exc.errno not in _FALLBACK:
                raise
            if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                _kernel_copy = False
            return done
        if n <= 0:  # end of the source, or a file system that copies nothing
            return done
        done += n
    return done


def _copy_sendfile(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int, size: int) -> int:
    """Copy with sendfile (which writes at the destination's file position)."""
    global _sendfile
    done = 0
    os.lseek(dst_fd, dst_offset, os.SEEK_SET)
    while done < size:
        try:
            n = os.sendfile(dst_fd, src_fd, src_offset + done, size - done)
        except OSError as exc:
            if exc.errno not in _FALLBACK:
                raise
            if exc.errno in (errno.ENOSYS, errno.EINVAL):
                _sendfile = False
            return done
        if n <= 0:
            return done
        done += n
    return done


def _copy_buffered(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int, size: int, path: str) -> None:
    buf = _buffer()
    done = 0
    while done < size:
        n = os.preadv(src_fd, [buf[:min(len(buf), size - done)]], src_offset + done)
        if n <= 0:
            raise _ends_early(path, src_offset + done, size - done)
        written = 0
        while written < n:
            written += os.pwrite(dst_fd, buf[written:n], dst_offset + done + written)
        done += n


def copy_range(src_fd: int, src_offset: int, dst_fd: int, dst_offset: int, size: int, *, path: str = "") -> None:
    """Copy ``size`` bytes from ``src_fd`` at ``src_offset`` to ``dst_fd`` at ``dst_offset``.

    Uses copy_file_range, then sendfile, then pread/pwrite, each continuing
    where the previous one stopped. ``path`` names the source in errors.
    """
    done = 0
    if _kernel_copy:
        done = _copy_kernel(src_fd, src_offset, dst_fd, dst_offset, size)
    if done < size and _sendfile:
        done += _copy_sendfile(src_fd, src_offset + done, dst_fd, dst_offset + done, size - done)
    if done < size:
        _copy_buffered(src_fd, src_offset + done, dst_fd, dst_offset + done, size - done, path)


def append_range(f: BinaryIO, src_fd: int, src_offset: int, size: int, *, path: str = "",
                 checksum: bool = True) -> Optional[int]:
    """Append ``size`` bytes of ``src_fd`` at ``src_offset`` to the buffered file ``f``.

    Returns the crc32c (unmasked) of the bytes when ``checksum`` is true. Large
    ranges are copied by the kernel while the checksum runs on a second thread;
    small ones go through ``f``'s buffer.
    """
    if size < KERNEL_COPY_MIN:
        data = read_exact(src_fd, src_offset, size, path=path)
        write_all(f, data)
        return checksums.crc32c(data) if checksum else None
    pending = range_crc32c_in_background(src_fd, src_offset, size, path=path) if checksum else None
    try:
        f.flush()
        start = f.tell()
        copy_range(src_fd, src_offset, f.fileno(), start, size, path=path)
        f.seek(start + size)
    except BaseException:
        if pending is not None:
            pending.exception()  # let the checksum finish before the caller closes the source
        raise
    return pending.result() if pending is not None else None


__all__ = ["COPY_ALIGN", "KERNEL_COPY_MIN", "append_range", "copy_range", "crc32c_in_background", "range_crc32c", "range_crc32c_in_background",
           "read_exact", "WRITE_PIECE", "write_all"]
