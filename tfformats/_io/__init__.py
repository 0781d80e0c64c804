"""Private byte I/O: every read and write of file bytes in tfformats goes through this package.

- ``source``: random-access byte sources (a local file through mmap/pread; a URL through ``remote``), the one
  seam where storage other than the local disk plugs in.
- ``atomic``: output files written under a temporary name and moved into place when complete.
- ``transfer``: chunked writes, kernel-side range copies and background checksums.
"""
