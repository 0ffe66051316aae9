"""NeurIPS format check over PDF bytes (pure functions, pypdf only) and the reviewers' metadata scrub."""

from app.pdf.check import check_pdf, check_pdf_file
from app.pdf.report import Finding, FormatReport
from app.pdf.scrub import scrub_metadata

__all__ = ["Finding", "FormatReport", "check_pdf", "check_pdf_file", "scrub_metadata"]
