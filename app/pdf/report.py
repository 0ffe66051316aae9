"""The format-check report: findings and their JSON shape (see DESIGN.md, `check-pdf --json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
PaperSize = Literal["letter", "a4", "other"]

CODES = ("pages", "paper-size", "margins", "two-column", "font-size", "not-anonymous", "metadata", "unreadable")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the PDF, phrased for the student who has to fix it."""

    code: str
    severity: Severity
    page: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "page": self.page, "message": self.message}


@dataclass
class FormatReport:
    """What the format check measured and found; `ok` is false when any finding is an error."""

    ok: bool = True
    pages_total: int = 0
    pages_main: int = 0
    references_page: int | None = None
    paper_size: PaperSize = "other"
    two_column: bool = False
    title: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> set[str]:
        """The codes of the error findings (handy for tests and summaries)."""
        return {f.code for f in self.findings if f.severity == "error"}

    def add(self, code: str, severity: Severity, message: str, page: int | None = None) -> None:
        self.findings.append(Finding(code, severity, page, message))
        self.ok = not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.errors,
            "pages_total": self.pages_total,
            "pages_main": self.pages_main,
            "references_page": self.references_page,
            "paper_size": self.paper_size,
            "two_column": self.two_column,
            "title": self.title,
            "findings": [f.to_dict() for f in self.findings],
        }


def unreadable(message: str) -> FormatReport:
    """The report for input that cannot be read as a PDF at all."""
    report = FormatReport()
    report.add("unreadable", "error", message)
    return report
