"""Moderation and marks: the database side of app.moderation (the pure kernel).

Gathers what marks are made of (each submission's submitted reviews and their score fields, the lecturers'
own reviews, the artifact's runs, badges and claim checks, calibration items, review-quality marks,
overrides), hands it to the kernel, and returns view models for the pages and the API. Every change is an
audit event; nothing here commits. What students and exports read is the snapshot written at release
(ReleasedMark), never the live computation.

The package, by what each module holds: `base` (reasons, numbers, lookups), `data` (what marks are made of,
read in a handful of queries), `scheme` (the marking scheme), `calibration` (calibration items, exclusions),
`marks` (every mark computed live, flags, review-quality suggestions), `actions` (hide a review, mark its
quality, override a mark), `release`, `views` (the pages' and the API's view models, plots), `export` (the
gradebook export), `extra` (asking one more reviewer). Callers import from the package.
"""

from app.services.moderation.actions import (  # noqa: F401
    confirm_assessment,
    hidden_review_ids,
    moderate_review,
    override_history,
    override_mark,
)
from app.services.moderation.base import (  # noqa: F401
    REASON_MAX,
    REASON_MIN,
    STAFF_ROLES,
    get_member,
    get_review,
    get_submission,
)
from app.services.moderation.calibration import (  # noqa: F401
    calibration_items,
    remove_calibration_item,
    set_calibration_item,
    set_exclusion,
)
from app.services.moderation.data import (  # noqa: F401
    ReviewInput,
    VenueData,
    artifact_evidence,
    gather,
    score_fields,
)
from app.services.moderation.export import (  # noqa: F401
    EXPORT_FORMATS,
    export_marks,
)
from app.services.moderation.extra import (  # noqa: F401
    ExtraReview,
    extra_review_candidates,
    request_extra_review,
)
from app.services.moderation.marks import (  # noqa: F401
    MarksResult,
    StudentMarks,
    SubmissionMarks,
    compute_marks,
    suggest_for,
)
from app.services.moderation.release import (  # noqa: F401
    ReleaseResult,
    release,
    released_marks,
    releases,
)
from app.services.moderation.scheme import (  # noqa: F401
    FLAG_KEYS,
    default_config,
    get_scheme_row,
    parse_config,
    round_half_up,
    rubric_mark,
    save_scheme,
    scheme_config,
    stored_config,
    stored_scheme,
    unfreeze_scheme,
    validate_levels,
)
from app.services.moderation.views import (  # noqa: F401
    moderation_queue,
    plots,
    released_member_ids,
    review_marking,
    review_marking_one,
    student_marks_json,
    submission_view,
)
