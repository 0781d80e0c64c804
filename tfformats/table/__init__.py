"""The sorted-string table format behind ``.index`` files and V1 checkpoints."""

from .reader import TableReader
from .writer import TableWriter

__all__ = ["TableReader", "TableWriter"]
