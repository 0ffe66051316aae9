"""Venues: the list, each role's dashboard, settings, phases and deadlines."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request

from app import schemas
from app.db import SessionDep
from app.errors import BadInput
from app.deps import CurrentUser, OptionalUser, VenueCtx, VenueContext
from app.models import DeadlineKind, Venue
from app.security import permissions
from app.security.permissions import require
from app.services import extensions as extension_service
from app.services import groups as group_service
from app.services import home as home_service
from app.services import venues as venue_service
from app.services.deadlines import effective_deadline, format_in, parse_local
from app.services.reviews import review_deadline_text
from app.web import form_action, redirect, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["venues"])


def deadline_rows(session, ctx: VenueContext) -> list[schemas.DeadlineOut]:  # noqa: ANN001
    """Every deadline kind as it applies to the viewer (their group's extension included)."""
    group_id = ctx.member.group_id if ctx.member else None
    member_id = ctx.member.id if ctx.member else None
    rows = []
    for kind in DeadlineKind:
        eff = effective_deadline(session, ctx.venue, kind, group_id, member_id)
        rows.append(schemas.DeadlineOut(kind=kind.value, due_at=eff.due_at, venue_due_at=eff.venue_due_at,
                                        extended=eff.extended,
                                        due_local=format_in(eff.due_at, ctx.venue.timezone) if eff.due_at else None))
    return rows


def venue_out(session, ctx: VenueContext) -> schemas.VenueOut:  # noqa: ANN001
    v = ctx.venue
    can_move = permissions.can_change_phase(ctx.user, ctx.member, v)
    return schemas.VenueOut(slug=v.slug, title=v.title, course_code=v.course_code, timezone=v.timezone,
                            phase=v.phase, group_min=v.group_min, group_max=v.group_max, page_limit=v.page_limit,
                            format_mandatory=v.format_mandatory, my_role=ctx.member.role if ctx.member else None,
                            allowed_phase_moves=venue_service.allowed_phase_moves(v) if can_move else [],
                            deadlines=deadline_rows(session, ctx))


# ---- pages ------------------------------------------------------------------------------------------


@pages.get("/")
def home(request: Request, session: SessionDep, user: OptionalUser):  # noqa: ANN201
    if user is None:
        return redirect("/login")
    rows = venue_service.list_venues_for(session, user)
    if len(rows) == 1 and not user.is_admin:
        return redirect(f"/venues/{rows[0][0].slug}")
    can_create = permissions.can_create_venue(user, venue_service.chairs_any_venue(session, user))
    return render(request, "pages/home.html", {"rows": rows, "can_create": can_create}, user=user)


@pages.post("/venues")
def venue_create(request: Request, session: SessionDep, user: CurrentUser, slug: Annotated[str, Form()],
                 title: Annotated[str, Form()], course_code: Annotated[str, Form()] = "",
                 timezone: Annotated[str, Form()] = "UTC"):  # noqa: ANN201
    require(permissions.can_create_venue, user, venue_service.chairs_any_venue(session, user))
    return form_action(request, session, lambda: venue_service.create_venue(
        session, user, slug=slug, title=title, course_code=course_code, timezone=timezone),
        success=lambda v: f"Venue {v.title} created.", next_url=lambda v: f"/venues/{v.slug}", back_url="/")


@pages.get("/venues/{slug}")
def dashboard(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    user, member, venue = ctx.user, ctx.member, ctx.venue
    staff = permissions.is_staff(user, member)
    group = members = None
    if member is not None and member.group_id is not None:
        group = group_service.get_group(session, venue, member.group_id)
        members = group_service.group_members(session, group)
    context = {
        "venue": venue, "member": member, "staff": staff, "chair": permissions.is_chair(user, member),
        "deadlines": deadline_rows(session, ctx), "viewer_tz": user.timezone,
        "group": group, "group_members": members,
        "can_create_group": permissions.can_create_group(user, member, venue),
        "can_request_extension": permissions.can_request_extension(user, member, venue),
        "phase_moves": venue_service.allowed_phase_moves(venue) if permissions.can_change_phase(user, member, venue) else [],
        "phases": [p.value for p in venue_service.PHASES],
    }
    if member is not None and not staff:
        tasks = home_service.review_tasks(session, venue, member)
        context.update({
            "tasks": tasks, "mine": home_service.my_submission(session, user, member=member, venue=venue),
            "review_deadline": review_deadline_text(session, venue, member) if tasks else None,
            "next_deadline": home_service.next_deadline(
                context["deadlines"], venue.phase, author=member.group_id is not None,
                reviewer=bool(tasks) or permissions.can_bid(user, member, venue)),
            "why_no_extension": permissions.why_not(permissions.can_request_extension, user, member, venue),
        })
    if staff:
        context["attention"] = home_service.chair_attention(session, user, member, venue)
        context["why_no_remind"] = permissions.why_not(permissions.can_remind_reviewer, user, member, venue)
        context["counts"] = {
            "members": len(venue_service.list_members(session, venue)),
            "groups": len(group_service.list_groups(session, venue)),
            "pending_extensions": sum(1 for e, _ in extension_service.list_extensions(session, venue)
                                      if e.status == "pending"),
        }
    return render(request, "pages/dashboard.html", context, user=user)


@pages.post("/venues/{slug}/reviewers/{member_id}/remind")
def remind_submit(request: Request, session: SessionDep, ctx: VenueCtx, member_id: int):  # noqa: ANN201
    """The chair's "Remind" button beside a late reviewer: one mail (after the commit, through the outbox)."""
    require(permissions.can_remind_reviewer, ctx.user, ctx.member, ctx.venue)
    url = f"/venues/{ctx.venue.slug}"
    reviewer = venue_service.get_member_by_id(session, ctx.venue, member_id)
    return form_action(request, session, lambda: home_service.remind_reviewer(session, ctx.user, ctx.venue, reviewer),
                       success=lambda numbers: "Reminder queued for " + ", ".join(f"#{n}" for n in numbers) + ".",
                       next_url=url, back_url=url)


@pages.get("/venues/{slug}/settings")
def settings_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_manage_venue, ctx.user, ctx.member, ctx.venue)
    return render(request, "pages/settings.html", {
        "venue": ctx.venue, "deadlines": deadline_rows(session, ctx), "kinds": [k.value for k in DeadlineKind],
        "can_copy": permissions.can_copy_venue(ctx.user, ctx.member, ctx.venue),
        "copy_shift_days": venue_service.default_copy_shift(session, ctx.venue)}, user=ctx.user)


@pages.post("/venues/{slug}/copy")
def venue_copy_submit(request: Request, session: SessionDep, ctx: VenueCtx, slug_new: Annotated[str, Form()],
                      title: Annotated[str, Form()], shift_days: Annotated[str, Form()] = ""):  # noqa: ANN201
    require(permissions.can_copy_venue, ctx.user, ctx.member, ctx.venue)
    back = f"/venues/{ctx.venue.slug}/settings"

    def copy() -> Venue:
        shift = _shift_days(shift_days)
        return venue_service.copy_venue(session, ctx.user, ctx.venue, slug=slug_new, title=title, shift_days=shift)
    return form_action(request, session, copy, success=lambda v: f"Venue {v.title} created from {ctx.venue.title}.",
                       next_url=lambda v: f"/venues/{v.slug}/settings", back_url=back)


def _shift_days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadInput(f"'{text[:20]}' is not a whole number of days.") from None


@pages.post("/venues/{slug}/settings")
def settings_submit(request: Request, session: SessionDep, ctx: VenueCtx, title: Annotated[str, Form()],
                    course_code: Annotated[str, Form()] = "", timezone: Annotated[str, Form()] = "UTC",
                    group_min: Annotated[int, Form()] = 2, group_max: Annotated[int, Form()] = 4,
                    page_limit: Annotated[int, Form()] = 9, format_mandatory: Annotated[bool, Form()] = False):  # noqa: ANN201
    require(permissions.can_manage_venue, ctx.user, ctx.member, ctx.venue)
    url = f"/venues/{ctx.venue.slug}/settings"
    return form_action(request, session, lambda: venue_service.update_settings(
        session, ctx.user, ctx.venue, title=title, course_code=course_code, timezone=timezone, group_min=group_min,
        group_max=group_max, page_limit=page_limit, format_mandatory=format_mandatory),
        success="Settings saved.", next_url=url, back_url=url)


@pages.get("/venues/{slug}/phase")
def phase_confirm_page(request: Request, session: SessionDep, ctx: VenueCtx, to: str):  # noqa: ANN201
    """The confirmation page of one phase change: its checklist, and the button that confirms it."""
    require(permissions.can_change_phase, ctx.user, ctx.member, ctx.venue)
    change = venue_service.change_phase(session, ctx.user, ctx.venue, to, None)
    return render(request, "pages/phase_confirm.html", {"venue": ctx.venue, "checklist": change.checklist.as_dict()},
                  user=ctx.user)


@pages.post("/venues/{slug}/phase")
def phase_submit(request: Request, session: SessionDep, ctx: VenueCtx, phase: Annotated[str, Form()],
                 confirm: Annotated[str, Form()] = ""):  # noqa: ANN201
    """Without `confirm` (a phase button): to the confirmation page; with it, the move (or the new list)."""
    require(permissions.can_change_phase, ctx.user, ctx.member, ctx.venue)
    url = f"/venues/{ctx.venue.slug}"
    confirm_url = f"{url}/phase?{urlencode({'to': phase})}"
    if not confirm.strip():
        return redirect(confirm_url)
    return form_action(request, session,
                       lambda: venue_service.change_phase(session, ctx.user, ctx.venue, phase, confirm),
                       success=lambda _c: f"The venue is now in the {ctx.venue.phase} phase.", next_url=url,
                       back_url=confirm_url)


@pages.post("/venues/{slug}/deadlines")
def deadline_submit(request: Request, session: SessionDep, ctx: VenueCtx, kind: Annotated[str, Form()],
                    due_at: Annotated[str, Form()]):  # noqa: ANN201
    require(permissions.can_set_deadline, ctx.user, ctx.member, ctx.venue)
    url = f"/venues/{ctx.venue.slug}/settings"
    return form_action(request, session, lambda: venue_service.set_deadline(
        session, ctx.user, ctx.venue, kind, parse_local(due_at, ctx.venue.timezone)),
        success=lambda d: f"The {d.kind} deadline is set.", next_url=url, back_url=url)


# ---- JSON API ---------------------------------------------------------------------------------------


@api.get("/venues", response_model=list[schemas.VenueOut])
def api_venues(session: SessionDep, user: CurrentUser):  # noqa: ANN201
    return [venue_out(session, VenueContext(venue=v, user=user, member=m))
            for v, m in venue_service.list_venues_for(session, user)]


@api.post("/venues", response_model=schemas.VenueOut, status_code=201)
def api_venue_create(body: schemas.VenueIn, session: SessionDep, user: CurrentUser):  # noqa: ANN201
    """Site admins and anyone who chairs a venue create one (the creator becomes its chair)."""
    require(permissions.can_create_venue, user, venue_service.chairs_any_venue(session, user))
    venue: Venue = venue_service.create_venue(session, user, **body.model_dump())
    return venue_out(session, VenueContext(venue=venue, user=user, member=venue_service.get_member(session, venue, user)))


@api.post("/venues/{slug}/copy", response_model=schemas.VenueOut, status_code=201,
          responses={409: {"model": schemas.ErrorOut}, 422: {"model": schemas.ErrorOut}})
def api_venue_copy(body: schemas.VenueCopyIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """A new venue from this one: settings, review form, marking scheme (with its rubric), deadlines moved by
    `shift_days`. 409 when the new slug exists (nothing is created)."""
    require(permissions.can_copy_venue, ctx.user, ctx.member, ctx.venue)
    venue = venue_service.copy_venue(session, ctx.user, ctx.venue, slug=body.slug, title=body.title,
                                     course_code=body.course_code, shift_days=body.shift_days)
    return venue_out(session, VenueContext(venue=venue, user=ctx.user,
                                           member=venue_service.get_member(session, venue, ctx.user)))


@api.get("/venues/{slug}", response_model=schemas.VenueOut)
def api_venue(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    return venue_out(session, ctx)


@api.patch("/venues/{slug}", response_model=schemas.VenueOut)
def api_venue_patch(body: schemas.VenuePatch, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_manage_venue, ctx.user, ctx.member, ctx.venue)
    venue_service.update_settings(session, ctx.user, ctx.venue, **body.model_dump(exclude_unset=True))
    return venue_out(session, ctx)


@api.post("/venues/{slug}/phase", response_model=schemas.PhaseChangeOut,
          responses={409: {"model": schemas.ErrorOut}})
def api_phase(body: schemas.PhaseIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """Without `confirm`: a dry run (the checklist, nothing changes). With the checklist's `fingerprint` as
    `confirm`: the move, or 409 `stale-checklist` with the new checklist in `details` when it changed since."""
    require(permissions.can_change_phase, ctx.user, ctx.member, ctx.venue)
    change = venue_service.change_phase(session, ctx.user, ctx.venue, body.phase, body.confirm)
    return schemas.PhaseChangeOut(**venue_out(session, ctx).model_dump(), moved=change.moved,
                                  checklist=change.checklist.as_dict())


@api.post("/venues/{slug}/reviewers/{member_id}/remind")
def api_remind(member_id: int, session: SessionDep, ctx: VenueCtx) -> dict:
    """Mail a reviewer the reviews they have not submitted (chairs and TAs, while reviews can be written; one
    reminder a day: a second answers 409)."""
    require(permissions.can_remind_reviewer, ctx.user, ctx.member, ctx.venue)
    reviewer = venue_service.get_member_by_id(session, ctx.venue, member_id)
    return {"member_id": reviewer.id, "submissions": home_service.remind_reviewer(session, ctx.user, ctx.venue,
                                                                                  reviewer)}


@api.get("/venues/{slug}/deadlines", response_model=list[schemas.DeadlineOut])
def api_deadlines(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    return deadline_rows(session, ctx)


@api.put("/venues/{slug}/deadlines/{kind}", response_model=list[schemas.DeadlineOut])
def api_deadline_set(kind: str, body: schemas.DeadlineIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_set_deadline, ctx.user, ctx.member, ctx.venue)
    venue_service.set_deadline(session, ctx.user, ctx.venue, kind, parse_local(body.due_at, ctx.venue.timezone))
    return deadline_rows(session, ctx)
