"""The verdict report: ``verdict.json``, ``verdict.md`` and the figures they link."""

from .writer import write_report

__all__ = ["write_report"]
