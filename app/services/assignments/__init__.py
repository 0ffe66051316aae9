"""Reviewer assignment, by concern (imports point down this list, never up):

- `profiles`: the venue's submissions and reviewers, submission texts, reviewer profiles and interests
- `conflicts`: conflict pairs and matrix; declared, imported and listed conflicts
- `bids`: the bidding window, bids, the bid matrix
- `embedding`: embeddings stored in the database, the texts a venue embeds ahead of a Preview
- `scoring`: a venue's texts embedded and scored (`VenueScores`)
- `changes`: THE one path every assignment change goes through (check → apply → audit event): manual,
  auto-solve (`plan_auto`, `auto_assign`), CSV import and export
- `explain`: why each pair, the assignment's quality, the histogram
- `jobs`: `AssignmentJob` rows (start, view, staleness, progress, apply a preview); app.jobs.assignments runs them

The names callers use are re-exported here (`from app.services import assignments`).
"""

from app.services.assignments.bids import bid_matrix, bidding_list, bidding_window, set_bid
from app.services.assignments.changes import (
    AssignmentPlan,
    Change,
    Problem,
    apply_changes,
    apply_plan,
    auto_assign,
    check_changes,
    export_csv,
    import_csv,
    pairs_to_keep,
    plan_auto,
)
from app.services.assignments.conflicts import (
    MAX_DECLARED_CONFLICTS,
    conflict_matrix,
    conflict_pairs,
    declare_conflict,
    declare_conflict_by_email,
    import_conflicts,
    list_conflicts,
    own_conflicts,
)
from app.services.assignments.embedding import EMBED_JOB, StoredEmbeddings, venue_texts
from app.services.assignments.explain import explain_current, histogram_svg
from app.services.assignments.options import OPTIONS, get_options, options_view, set_options
from app.services.assignments.jobs import (
    JOB_STALE_AFTER,
    SOLVE_JOB,
    active_jobs,
    apply_preview,
    background_job_id,
    failure_message,
    finish_job,
    get_job,
    is_finished,
    is_stale,
    job_view,
    latest_job,
    plan_result,
    start_job,
    update_job,
)
from app.services.assignments.profiles import (
    MAX_INTEREST_CHARS,
    MAX_INTERESTS,
    PDF_PAGES_FOR_TEXT,
    REVIEWER_ROLES,
    ProfileItem,
    _pdf_text,
    current,
    get_assignment_sub,
    interests,
    member_labels,
    profile_items,
    reviewer_profile,
    reviewers,
    set_interests,
    split_interests,
    submission_text,
    submissions,
)
from app.services.assignments.scoring import NotEmbedded, VenueScores, for_ranking, score_venue

_member_labels = member_labels  # the name app.routers.assignments uses

__all__ = [
    "JOB_STALE_AFTER", "MAX_INTERESTS", "MAX_INTEREST_CHARS", "PDF_PAGES_FOR_TEXT", "REVIEWER_ROLES", "SOLVE_JOB",
    "AssignmentPlan", "Change", "NotEmbedded", "Problem", "ProfileItem", "VenueScores",
    "active_jobs", "apply_changes", "apply_plan", "apply_preview", "auto_assign", "background_job_id",
    "bid_matrix", "bidding_list", "bidding_window", "check_changes", "conflict_matrix", "conflict_pairs",
    "MAX_DECLARED_CONFLICTS", "current", "declare_conflict", "declare_conflict_by_email", "explain_current",
    "export_csv", "failure_message", "finish_job",
    "for_ranking", "get_assignment_sub", "get_job", "histogram_svg", "import_conflicts", "import_csv",
    "interests", "is_finished", "is_stale", "job_view", "latest_job", "list_conflicts", "member_labels",
    "own_conflicts", "pairs_to_keep", "plan_auto", "plan_result", "profile_items", "reviewer_profile",
    "reviewers", "score_venue", "set_bid", "set_interests", "split_interests", "start_job", "submission_text",
    "submissions", "update_job", "EMBED_JOB", "StoredEmbeddings", "venue_texts",
    "OPTIONS", "get_options", "options_view", "set_options",
]
