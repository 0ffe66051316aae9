"""NeurIPS format check over PDF bytes (pure functions, pypdf only) and the reviewers' copy, rebuilt and verified."""

from app.pdf.check import check_pdf, check_pdf_file
from app.pdf.report import Finding, FormatReport
from app.pdf.scrub import ScrubError, reviewer_copy, scrub_metadata, verify_reviewer_copy

__all__ = ["Finding", "FormatReport", "ScrubError", "check_pdf", "check_pdf_file", "reviewer_copy", "scrub_metadata",
           "verify_reviewer_copy"]
