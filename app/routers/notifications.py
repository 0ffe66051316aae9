"""Notifications: the person's mail settings (page form and API), their calendar URL and .ics feed (a request's
committed mail is sent after its response by app.jobs.mail.DeliverAfterResponse)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from app.db import SessionDep
from app.deps import CurrentUser, SettingsDep
from app.errors import NotFound
from app.services import notifications as service
from app.web import form_action

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["notifications"])


class NotificationSettingsIn(BaseModel):
    """Any of the four switches; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    on_assignment: bool | None = None
    on_comment: bool | None = None
    on_release: bool | None = None
    deadline_digest: bool | None = None


class NotificationSettingsOut(BaseModel):
    on_assignment: bool
    on_comment: bool
    on_release: bool
    deadline_digest: bool


class CalendarUrlOut(BaseModel):
    url: str


# ---- JSON API ----------------------------------------------------------------------------------------------


@api.get("/me/notifications", response_model=NotificationSettingsOut)
def api_get_settings(session: SessionDep, user: CurrentUser) -> dict:
    """Which mails you get: on assignment, on new discussion posts, on release, and the daily deadline digest."""
    return service.get_settings_for(session, user)


@api.put("/me/notifications", response_model=NotificationSettingsOut)
def api_set_settings(body: NotificationSettingsIn, session: SessionDep, user: CurrentUser) -> dict:
    return service.set_settings_for(session, user, body.model_dump(exclude_none=True))


@api.get("/me/calendar-url", response_model=CalendarUrlOut)
def api_calendar_url(user: CurrentUser, settings: SettingsDep) -> dict:
    """A secret URL of an .ics feed of your deadlines, for a calendar app; changing your password revokes it."""
    return {"url": service.calendar_url(settings, user)}


# ---- pages -------------------------------------------------------------------------------------------------


@pages.post("/account/notifications")
def account_notifications(request: Request, session: SessionDep, user: CurrentUser,  # noqa: ANN201
                          on_assignment: Annotated[bool, Form()] = False, on_comment: Annotated[bool, Form()] = False,
                          on_release: Annotated[bool, Form()] = False,
                          deadline_digest: Annotated[bool, Form()] = False):
    """The account page's checkboxes (an unticked box is simply absent from the form)."""
    changes = {"on_assignment": on_assignment, "on_comment": on_comment, "on_release": on_release,
               "deadline_digest": deadline_digest}
    return form_action(request, session, lambda: service.set_settings_for(session, user, changes),
                       success="Notification settings saved.", next_url="/account#notifications",
                       back_url="/account#notifications")


@pages.get("/calendar/{token}.ics")
def calendar_feed(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The .ics feed behind a calendar URL (a calendar app cannot sign in: the URL is the credential)."""
    text = service.calendar_for_token(session, settings, token)
    if text is None:
        raise NotFound("There is no such calendar: the link is wrong or outdated (a password change revokes it).")
    return Response(text, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300",
                             "Content-Disposition": 'inline; filename="reproreview.ics"'})
