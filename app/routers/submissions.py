"""Submissions: the authors' page, PDF revisions with the format report, code artifacts; staff listing."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse

from app import schemas
from app.anonymity import display_email, display_name
from app.db import SessionDep, begin_write, release
from app.deps import SettingsDep, SubmissionContext, VenueCtx, VisibleSubmission
from app.errors import NotFound, TooLarge
from app.models import Submission
from app.security import permissions
from app.security.permissions import require
from app.security.headers import allow_same_origin_framing
from app.services import groups as group_service
from app.markdown import render_markdown
from app.routers.runs import runs_section
from app.services import reviews as review_service
from app.services import submissions as service
from app.web import form_action, redirect, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["submissions"])



def _check_length(request: Request, limit: int) -> None:
    """Refuse an oversized upload from its Content-Length before reading it."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise TooLarge(f"The upload is larger than the {limit // (1024 * 1024)} MB limit: nothing was stored.")


def _own_submission(session, ctx, number: int | None = None) -> Submission:  # noqa: ANN001
    """The signed-in author's group's submission (checked against `number` when the URL names one)."""
    require(permissions.can_submit, ctx.user, ctx.member, ctx.venue)
    sub = service.submission_of_group(session, ctx.venue, ctx.member.group_id)
    if sub is None:
        raise NotFound("Your group has no submission yet: give it a title first.")
    if number is not None and sub.number != number:
        raise NotFound(f"There is no submission #{number} of your group.")
    return sub


def _checked_upload(session, settings, ctx, sub: Submission, data: bytes, filename: str):  # noqa: ANN001, ANN202
    """Three short steps: read (may we upload?), check + store with no transaction open, write the row.

    The read ends before the check, so a slow format check never holds a connection or (on SQLite) a stale
    read snapshot that would make the final write fail; the write starts as a writer and the request commits it.
    """
    names, emails = service.upload_identity(session, ctx.venue, sub)
    release(session)
    prepared = service.prepare_revision(settings, ctx.venue, sub, data, filename, names, emails)
    begin_write(session)
    return service.record_revision(session, ctx.user, ctx.venue, sub, prepared)


def _snapshot_artifact(session, settings, ctx, sub: Submission, *, data: bytes | None = None,  # noqa: ANN001, ANN202
                       filename: str = "", repo_url: str = "", commit: str = ""):
    """Like _checked_upload: check, then snapshot (a clone may take minutes) with no transaction open, so no
    connection or write lock is held meanwhile, then write the row as a writer."""
    service.check_artifact_open(session, ctx.venue, sub)
    release(session)
    if data is not None:
        snap = service.snapshot_archive(settings, data, filename or "artifact.zip")
        return service.record_artifact(session, settings, ctx.user, ctx.venue, sub, snap,
                                       archive_name=filename or "artifact.zip")
    snap = service.snapshot_git(settings, repo_url, commit)
    return service.record_artifact(session, settings, ctx.user, ctx.venue, sub, snap, repo_url=repo_url,
                                   commit=commit)


def revision_out(rev, current_id: int | None, *, report: dict | None = None,  # noqa: ANN001
                 identities: bool = True) -> schemas.RevisionOut:
    """Without `identities` (reviewers), no uploaded file name; `report` is the format report this viewer reads
    (masked for reviewers: service.masked_format_report), the stored one when not given."""
    return schemas.RevisionOut(id=rev.id, uploaded_at=rev.uploaded_at, size=rev.size,
                               filename=rev.filename if identities else f"revision-{rev.id}.pdf",
                               format_ok=rev.format_ok, pages_main=rev.pages_main, pages_total=rev.pages_total,
                               format_report=rev.format_report if report is None else report,
                               current=rev.id == current_id)


def _revision_for(session, st, sub: Submission, rev, current_id: int | None) -> schemas.RevisionOut:  # noqa: ANN001
    """A revision as this viewer may read it (the format report masked for anyone but the authors and staff)."""
    if permissions.can_read_format_report_unmasked(st):
        return revision_out(rev, current_id)
    return revision_out(rev, current_id, identities=False,
                        report=service.masked_format_report(session, sub, rev.format_report))


def artifact_out(art, *, identities: bool = True, mask=None) -> schemas.ArtifactOut | None:  # noqa: ANN001
    """Without `identities` (reviewers), no repository URL, commit (searchable on forges) or archive file name,
    and the manifest's problems (they quote the authors' reproduce.toml) through `mask`."""
    if art is None:
        return None
    errors = art.manifest_errors if mask is None else mask.value(art.manifest_errors)
    return schemas.ArtifactOut(id=art.id, source=art.source, repo_url=art.repo_url if identities else None,
                               commit=art.commit if identities else None,
                               archive_name=art.archive_name if identities else None, file_count=art.file_count,
                               total_bytes=art.total_bytes, manifest_ok=art.manifest_ok,
                               manifest_errors=errors, created_at=art.created_at)


def submission_out(session, ctx, sub: Submission) -> schemas.SubmissionOut:  # noqa: ANN001
    current = service.current_revision(session, sub)
    group = group_service.get_group(session, ctx.venue, sub.group_id)
    shows_group = permissions.can_view_group(ctx.user, ctx.member, ctx.venue, group)
    st = permissions.standing(session, ctx.user, ctx.member, sub, ctx.venue)
    identities = permissions.can_view_artifact_original(st)
    mask = None if identities else service.masker_for(session, sub)  # reviewers: the authors' words masked
    return schemas.SubmissionOut(number=sub.number, title=sub.title if mask is None else mask(sub.title),
                                 abstract=sub.abstract if mask is None else mask(sub.abstract or ""),
                                 keywords=sub.keywords if mask is None else mask.value(sub.keywords),
                                 group_name=group.name if shows_group else None, updated_at=sub.updated_at,
                                 current_revision=_revision_for(session, st, sub, current, current.id)
                                 if current else None,
                                 artifact=artifact_out(service.current_artifact(session, sub), identities=identities,
                                                       mask=mask))


# ---- pages ------------------------------------------------------------------------------------------


@pages.get("/venues/{slug}/submission")
def my_submission_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """The authors' page: metadata, PDF upload with the format report, revisions, the code artifact."""
    require(permissions.can_view_own_submission, ctx.user, ctx.member, ctx.venue)
    sub = service.submission_of_group(session, ctx.venue, ctx.member.group_id)
    st = permissions.standing(session, ctx.user, ctx.member, sub, ctx.venue) if sub else None
    revs = service.revisions(session, sub) if sub else []
    art = service.current_artifact(session, sub) if sub else None
    files = []
    if art is not None:
        from app.artifacts.snapshot import list_files

        files = list_files(service.store(request.app.state.settings), art.snapshot_sha)[:500]
    return render(request, "pages/submission.html", {
        "venue": ctx.venue, "sub": sub, "revisions": revs, "current": revs[0] if revs else None,
        "artifact": art, "files": files, "can_submit": permissions.can_submit(ctx.user, ctx.member, ctx.venue),
        "reviews_open": st is not None and permissions.can_read_reviews(st),
        **runs_section(session, st),
    }, user=ctx.user, partial="partials/format_report.html" if request.headers.get("hx-target") == "format-report"
        else None)


def _my_url(ctx) -> str:  # noqa: ANN001
    return f"/venues/{ctx.venue.slug}/submission"


@pages.post("/venues/{slug}/submission")
def my_submission_save(request: Request, session: SessionDep, ctx: VenueCtx, title: Annotated[str, Form()],
                       abstract: Annotated[str, Form()] = "", keywords: Annotated[str, Form()] = ""):  # noqa: ANN201
    def save():  # noqa: ANN202
        require(permissions.can_submit, ctx.user, ctx.member, ctx.venue)
        return service.save_submission(session, ctx.user, ctx.venue, ctx.member, title=title, abstract=abstract,
                                       keywords=keywords)
    return form_action(request, session, save, success=lambda s: f"Submission #{s.number} saved.",
                       next_url=_my_url(ctx), back_url=_my_url(ctx))


@pages.post("/venues/{slug}/submission/revisions")
def my_revision_upload(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                             file: Annotated[UploadFile, File()]):  # noqa: ANN201
    _check_length(request, settings.pdf_max_bytes)
    data = service.read_limited(file.file, settings.pdf_max_bytes)

    def upload():  # noqa: ANN202
        return _checked_upload(session, settings, ctx, _own_submission(session, ctx), data, file.filename or "")
    return form_action(request, session, upload,
                       success=lambda r: "PDF uploaded: " + ("it meets the format." if r.format_ok else
                                                             "see the format report below."),
                       next_url=_my_url(ctx), back_url=_my_url(ctx))


@pages.post("/venues/{slug}/submission/artifact")
def my_artifact(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                      repo_url: Annotated[str, Form()] = "", commit: Annotated[str, Form()] = "",
                      archive: Annotated[UploadFile | None, File()] = None):  # noqa: ANN201
    _check_length(request, settings.artifact_max_bytes)
    data = service.read_limited(archive.file, settings.artifact_max_bytes) if archive and archive.filename else None

    def save():  # noqa: ANN202
        sub = _own_submission(session, ctx)
        if data is not None:
            return _snapshot_artifact(session, settings, ctx, sub, data=data, filename=archive.filename)
        return _snapshot_artifact(session, settings, ctx, sub, repo_url=repo_url, commit=commit)
    return form_action(request, session, save, success=lambda a: f"Code snapshot stored ({a.file_count} files).",
                       next_url=_my_url(ctx), back_url=_my_url(ctx))


@pages.get("/venues/{slug}/submissions")
def submissions_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_list_submissions, ctx.user, ctx.member, ctx.venue)
    rows = [(sub, group, service.current_revision(session, sub), service.current_artifact(session, sub))
            for sub, group in service.list_submissions(session, ctx.venue)]
    return render(request, "pages/submissions.html", {"venue": ctx.venue, "rows": rows}, user=ctx.user)


def _staff_url(ctx, sub: Submission) -> str:  # noqa: ANN001
    return f"/venues/{ctx.venue.slug}/submissions/{sub.number}"


@pages.get("/venues/{slug}/submissions/{number:int}")
def submission_staff_page(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """Chairs and TAs: metadata, the group (with identities), every revision, PDFs, the artifact and its manifest."""
    sub = ctx.sub
    if not permissions.can_view_submission_staff_page(ctx.user, ctx.member, ctx.venue):
        if ctx.standing.author:
            return redirect(_my_url(ctx))
        require(permissions.can_view_submission_staff_page, ctx.user, ctx.member, ctx.venue)
    view = service.submission_overview(session, ctx.venue, sub)
    members = [(display_name(ctx.user, ctx.member, u, m), display_email(ctx.user, ctx.member, u, m))
               for m, u in view.members]
    rel = review_service.relation(session, ctx.member, sub)
    reviews = review_service.visible_reviews(session, ctx.user, ctx.member, ctx.venue, sub, is_staff=True, rel=rel)
    return render(request, "pages/submission_staff.html", {
        "venue": ctx.venue, "sub": sub, "group": view.group, "members": members, "revisions": view.revisions,
        "current": view.revisions[0] if view.revisions else None, "artifact": view.artifact,
        "reviews": reviews, "render_markdown": render_markdown,
    }, user=ctx.user)


def _artifact_for(session, ctx: SubmissionContext, view: str):  # noqa: ANN001, ANN202
    """The submission, its artifact, the snapshot this viewer reads, and whether they may pick the original.

    Only the group and staff may pick; anyone else gets the anonymized view whatever they asked for.
    """
    sub = ctx.sub
    art = service.current_artifact(session, sub)
    if art is None:
        raise NotFound("This submission has no code artifact yet.")
    may_choose = permissions.can_view_artifact_original(ctx.standing)
    original = may_choose and view == "original"
    return sub, art, service.artifact_sha(art, original), original, may_choose


def _back_url(ctx: SubmissionContext, sub: Submission) -> str:
    if permissions.can_view_submission_staff_page(ctx.user, ctx.member, ctx.venue):
        return _staff_url(ctx, sub)
    if ctx.standing.author:
        return _my_url(ctx)
    return ""


@pages.get("/venues/{slug}/submissions/{number:int}/artifact")
def artifact_tree_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VisibleSubmission,
                       view: str = "anonymized"):  # noqa: ANN201
    """The artifact's files as a collapsible tree (anonymized for reviewers; authors and staff may pick)."""
    from app.artifacts.browse import build_tree, list_entries

    sub, art, sha, original, may_choose = _artifact_for(session, ctx, view)
    release(session)  # no connection held while the snapshot is read
    entries = list_entries(service.store(settings), sha, anonymized=not original)
    return render(request, "pages/artifact_tree.html", {
        "venue": ctx.venue, "sub": sub, "artifact": art, "tree": build_tree(entries), "original": original,
        "may_choose": may_choose, "back_url": _back_url(ctx, sub), "file_count": art.file_count,
        "base": f"/venues/{ctx.venue.slug}/submissions/{sub.number}/artifact",
        "query": "?view=original" if original else "",
    }, user=ctx.user)


@pages.get("/venues/{slug}/submissions/{number:int}/artifact/{path:path}")
def artifact_file_page(path: str, request: Request, session: SessionDep, settings: SettingsDep,
                       ctx: VisibleSubmission, view: str = "anonymized", download: bool = False,
                       source: bool = False):  # noqa: ANN201
    """One file: text with line numbers, README rendered (sanitised), binary or `download=1` as an attachment."""
    from app.artifacts import browse

    sub, art, sha, original, may_choose = _artifact_for(session, ctx, view)
    release(session)  # no connection held while the snapshot is read (or a download streams)
    blobs = service.store(settings)
    if not path.strip("/") and not path.startswith("/"):
        return redirect(f"/venues/{ctx.venue.slug}/submissions/{sub.number}/artifact"
                        + ("?view=original" if original else ""))
    if download:
        name, size = browse.find_file(blobs, sha, path)
        filename = browse.download_name(name)
        return StreamingResponse(browse.iter_file(blobs, sha, name), media_type="application/octet-stream", headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "Content-Length": str(size), "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox", "Cache-Control": "private, no-store"})
    shown = browse.file_view(blobs, sha, path, source=source, link_query="view=original" if original else "",
                             anonymized=not original)
    base = f"/venues/{ctx.venue.slug}/submissions/{sub.number}/artifact"
    return render(request, "pages/artifact_file.html", {
        "venue": ctx.venue, "sub": sub, "artifact": art, "file": shown, "original": original,
        "may_choose": may_choose, "back_url": _back_url(ctx, sub), "base": base,
        "query": "?view=original" if original else "", "crumbs": _crumbs(shown.path),
    }, user=ctx.user)


def _crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path) for each directory above a file, for the breadcrumb."""
    parts = path.split("/")
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts[:-1])]


# ---- JSON API ---------------------------------------------------------------------------------------


@api.get("/venues/{slug}/submissions", response_model=list[schemas.SubmissionOut])
def api_submissions(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """Staff see all submissions; authors see their group's."""
    if permissions.can_list_submissions(ctx.user, ctx.member, ctx.venue):
        subs = [s for s, _ in service.list_submissions(session, ctx.venue)]
    elif ctx.member is not None and ctx.member.group_id is not None:
        subs = [s for s in [service.submission_of_group(session, ctx.venue, ctx.member.group_id)] if s]
    else:
        subs = []
    return [submission_out(session, ctx, s) for s in subs]


@api.post("/venues/{slug}/submissions", response_model=schemas.SubmissionOut)
def api_submission_save(body: schemas.SubmissionIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """Create the group's submission, or update its title, abstract and keywords."""
    require(permissions.can_submit, ctx.user, ctx.member, ctx.venue)
    sub = service.save_submission(session, ctx.user, ctx.venue, ctx.member, title=body.title, abstract=body.abstract,
                                  keywords=body.keywords)
    return submission_out(session, ctx, sub)


@api.get("/venues/{slug}/submissions/{number}", response_model=schemas.SubmissionOut)
def api_submission(session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    return submission_out(session, ctx, ctx.sub)


@api.post("/venues/{slug}/submissions/{number}/revisions", response_model=schemas.RevisionOut, status_code=201,
          responses={413: {"model": schemas.ErrorOut}, 409: {"model": schemas.ErrorOut},
                     422: {"model": schemas.ErrorOut}})
def api_revision_upload(number: int, request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                        file: Annotated[UploadFile, File()]):  # noqa: ANN201
    """Upload a PDF; the format report comes back at once. Refused uploads store nothing."""
    _check_length(request, settings.pdf_max_bytes)
    sub = _own_submission(session, ctx, number)
    data = service.read_limited(file.file, settings.pdf_max_bytes)
    rev = _checked_upload(session, settings, ctx, sub, data, file.filename or "")
    return revision_out(rev, rev.id)


@api.get("/venues/{slug}/submissions/{number}/revisions", response_model=list[schemas.RevisionOut])
def api_revisions(session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """Authors and staff: every revision, newest first. Reviewers: the one that counts, its report masked."""
    revs = service.visible_revisions(session, ctx.sub,
                                     superseded=permissions.can_view_superseded_revisions(ctx.standing))
    return [_revision_for(session, ctx.standing, ctx.sub, r, revs[0].id) for r in revs]


@api.get("/venues/{slug}/submissions/{number}/revisions/{revision_id}/pdf", response_class=Response,
         responses=schemas.served_as("application/pdf", description="The PDF"))
def api_revision_pdf(revision_id: int, session: SessionDep, settings: SettingsDep, ctx: VisibleSubmission,
                     copy: str = "reviewer") -> Response:
    """The PDF, served inline: `copy=reviewer` (metadata scrubbed, the default) or `copy=original` (authors and
    chairs). Reviewers get the current revision only: an earlier id answers 404 for them."""
    sub = ctx.sub
    rev = service.get_revision(session, sub, revision_id,
                               superseded=permissions.can_view_superseded_revisions(ctx.standing))
    if copy == "original":
        require(permissions.can_view_original_pdf, ctx.standing)
        sha = rev.blob_sha
    else:
        sha = rev.reviewer_blob_sha
    release(session)  # end the transaction before streaming: the file may take a while to send
    # inline: the review page shows it beside the form (pdf.js, or the browser's viewer); nosniff keeps it a PDF
    response = FileResponse(service.store(settings).path(sha), media_type="application/pdf",
                            filename=f"submission-{sub.number}-r{rev.id}.pdf", content_disposition_type="inline",
                            headers={"X-Content-Type-Options": "nosniff"})
    allow_same_origin_framing(response)  # the review page shows it beside the form
    return response


@api.post("/venues/{slug}/submissions/{number}/artifact/git", response_model=schemas.ArtifactOut, status_code=201)
def api_artifact_git(number: int, body: schemas.GitArtifactIn, session: SessionDep, settings: SettingsDep,
                     ctx: VenueCtx):  # noqa: ANN201
    """Snapshot a git repository at a commit (the service fetches it with git, with a timeout and a size limit)."""
    sub = _own_submission(session, ctx, number)
    return artifact_out(_snapshot_artifact(session, settings, ctx, sub, repo_url=body.repo_url, commit=body.commit))


@api.post("/venues/{slug}/submissions/{number}/artifact/archive", response_model=schemas.ArtifactOut,
          status_code=201)
def api_artifact_archive(number: int, request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                         file: Annotated[UploadFile, File()]):  # noqa: ANN201
    """Snapshot an uploaded .zip / .tar.gz of the code."""
    _check_length(request, settings.artifact_max_bytes)
    sub = _own_submission(session, ctx, number)
    data = service.read_limited(file.file, settings.artifact_max_bytes)
    return artifact_out(_snapshot_artifact(session, settings, ctx, sub, data=data,
                                           filename=file.filename or "artifact.zip"))


@api.get("/venues/{slug}/submissions/{number}/artifact/files")
def api_artifact_files(session: SessionDep, settings: SettingsDep, ctx: VisibleSubmission,
                       view: str = "anonymized") -> list[dict]:
    """The snapshot's file list (`view=anonymized` as reviewers see it; `original` for authors and staff only)."""
    from app.artifacts.browse import list_entries

    _sub, _art, sha, original, _may = _artifact_for(session, ctx, view)
    release(session)  # no connection held while the snapshot is read
    entries = list_entries(service.store(settings), sha, anonymized=not original)
    # a file the anonymized view withheld says so, with the reason (its bytes are that note)
    return sorted(({"path": p, "size": s} if kind == "file" else {"path": p, "size": s, "withheld": target}
                   for p, kind, s, target in entries if kind in ("file", "withheld")), key=lambda e: e["path"])


@api.get("/venues/{slug}/submissions/{number}/artifact/files/{path:path}", response_class=Response,
         responses=schemas.served_as("text/plain", "application/octet-stream", description="The file's bytes"))
def api_artifact_file(path: str, session: SessionDep, settings: SettingsDep, ctx: VisibleSubmission,
                      view: str = "anonymized") -> Response:
    """One file's bytes (`view=original` only for authors and staff; anyone else always reads the anonymized view)."""
    from app.artifacts.snapshot import read_file

    _sub, _art, sha, _original, _may = _artifact_for(session, ctx, view)
    release(session)  # no connection held while the snapshot is read
    data = read_file(service.store(settings), sha, path, 5 * 1024 * 1024)
    return Response(data, media_type="text/plain; charset=utf-8" if _is_text(data) else "application/octet-stream")


def _is_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data[:4096]


__all__ = ["api", "pages", "redirect"]
