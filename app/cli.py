"""The `reproreview` command."""

import argparse
import getpass
import json
import os
import sys
from pathlib import Path


def _settings():  # noqa: ANN202
    from app.settings import get_settings

    return get_settings()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from app.migrate import upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url, args.revision)
    print(f"Database is at revision {args.revision}.")
    return 0


def _base_url_follows(host: str, port: int) -> str:
    """Emailed links, reset links and the .ics feed use `settings.base_url`: unless it is configured
    (REPROREVIEW_BASE_URL or .env), it follows the address this command serves on (`--host`, `--port`).
    Set in the environment, so uvicorn's worker processes and the cached settings see the same value."""
    from app.settings import get_settings

    settings = get_settings()
    if "base_url" in settings.model_fields_set:
        return settings.base_url
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 — a URL, not a bind
    if ":" in shown:
        shown = f"[{shown}]"
    os.environ["REPROREVIEW_BASE_URL"] = f"http://{shown}:{port}"
    get_settings.cache_clear()
    return get_settings().base_url


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, proxy_headers=True, log_level="info")


def cmd_serve(args: argparse.Namespace) -> int:
    from app.db import get_engine
    from app.migrate import DatabaseNotMigrated, ensure_migrated

    _base_url_follows(args.host, args.port)
    try:
        ensure_migrated(get_engine())
    except DatabaseNotMigrated as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _serve(args.host, args.port, args.workers)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from app.db import get_engine
    from app.demo import DEMO_PASSWORD, DEMO_SLUG, build_demo, demo_logins
    from app.migrate import upgrade
    from app.models import Venue

    base_url = _base_url_follows(args.host, args.port)
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    built = build_demo(get_engine(), settings)
    with Session(get_engine()) as session:
        logins = demo_logins(session)
        venue_ids = [v.id for v in session.exec(select(Venue)).all()]
    from app.jobs.assignments import embed_ahead

    if settings.redis_url or not args.no_serve:  # a thread would die with this process under --no-serve
        embed_ahead(settings, get_engine(), venue_ids)  # so the chair's first Preview finds every text embedded
    runs = ", ".join(f"{n} {status}" for status, n in sorted(built["runs"].items())) or "none"
    print(f"\nReproReview demo: {base_url}/venues/{DEMO_SLUG}  (database: {settings.resolved_database_url})")
    print(f"Built in {built['seconds']} s; last term's artifact runs: {runs}. Links in mails and the calendar "
          f"feed use {base_url}.")
    print(f"Every demo login has the password: {DEMO_PASSWORD}")
    for role, email, sees in logins:
        print(f"  {role:<24} {email:<44} sees {sees}")
    print()
    sys.stdout.flush()
    if args.no_serve:
        return 0
    _serve(args.host, args.port)
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.db import get_engine
    from app.errors import DomainError
    from app.services import accounts

    password = os.environ.get("REPROREVIEW_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    with Session(get_engine()) as session:
        try:
            user = accounts.get_user_by_email(session, args.email)
            if user is None:
                user = accounts.create_user(session, args.email, args.name or args.email, password, is_admin=True)
            else:
                user.is_admin = True
                accounts.set_password(session, user, password)
            session.commit()
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(f"{user.email} is a site admin.")
    return 0


def cmd_import_roster(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from app.db import get_engine
    from app.errors import DomainError
    from app.models import User
    from app.services import roster, venues

    settings = _settings()
    data = Path(args.file).read_bytes() if args.file != "-" else sys.stdin.buffer.read()
    with Session(get_engine()) as session:
        try:
            venue = venues.get_venue(session, args.venue)
            actor = session.exec(select(User).where(User.is_admin == True)).first()  # noqa: E712
            report = roster.import_roster(session, actor, venue, data, max_bytes=settings.roster_max_bytes,
                                          partial=args.partial)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        if report.applied:
            session.commit()
        else:
            session.rollback()
    if args.json:
        print(json.dumps({**report.as_dict(), "summary": report.summary}, indent=2))
    else:
        print(report.summary)
        for row in report.rejected:
            print(f"  line {row.line}: {row.reason}")
    return 0 if report.applied else 1


def cmd_check_pdf(args: argparse.Namespace) -> int:
    from app.pdf import check_pdf

    try:
        data = Path(args.path).read_bytes()
    except OSError as exc:
        data = b""
        print(f"error: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
    report = check_pdf(data, page_limit=args.page_limit, anonymous=not args.camera_ready)
    out = report.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        verdict = "OK" if out["ok"] else "NOT OK"
        print(f"{args.path}: {verdict} — {out['pages_main']} content pages of {out['pages_total']}, "
              f"{out['paper_size']}, title: {out['title']!r}")
        for f in out["findings"]:
            where = f" (page {f['page']})" if f.get("page") else ""
            print(f"  {f['severity']:<7} {f['code']:<14} {f['message']}{where}")
    return 2 if any(f["code"] == "unreadable" for f in out["findings"]) else 0


def cmd_assign(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from app.assignment.solver import Infeasible
    from app.db import get_engine
    from app.errors import DomainError
    from app.models import User
    from app.services import assignments, venues

    settings = _settings()

    def progress(done: int, total: int) -> None:
        if not args.json and total:
            bar = "#" * int(30 * done / total)
            print(f"\rembedding texts [{bar:<30}] {done}/{total}", end="", file=sys.stderr, flush=True)

    def on_phase(phase: str, done: int, total: int) -> None:
        if not args.json and phase != "embedding" and done == 0:
            print(f"\n{phase}…" if phase == "solving" else f"{phase}…", file=sys.stderr, flush=True)

    with Session(get_engine()) as session:
        try:
            venue = venues.get_venue(session, args.venue)
            actor = session.exec(select(User).where(User.is_admin == True)).first()  # noqa: E712
            plan = assignments.auto_assign(session, settings, actor, venue, k=args.k, min_load=args.min_load,
                                           max_load=args.max_load, include_tas=args.include_tas, fair=args.fair,
                                           keep_existing=not args.full, dry_run=args.dry_run, progress=progress,
                                           on_phase=on_phase)
        except (Infeasible, DomainError) as exc:
            message = (f"no assignment is possible: {exc}" if isinstance(exc, Infeasible) else exc.message)
            print(f"\nerror: {message}", file=sys.stderr)
            if args.json:  # a script reading stdout gets the reason too, not an empty page
                print(json.dumps({"error": message}))
            return 2
        if not args.dry_run:
            from app.jobs import mail

            with mail.delivering(settings):  # the commit sends the assignment mails it queued
                session.commit()
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, "stats": plan.stats,
                          "pairs": [{"submission_id": s, "member_id": m, "affinity": round(plan.affinity[(s, m)], 4)}
                                    for s, m in plan.pairs]}, indent=2))
    else:
        print(file=sys.stderr)
        st = plan.stats
        verb = "would change" if args.dry_run else "changed"
        print(f"{st['submissions']} submissions x {st['reviewers']} reviewers, k={st['k']}: {verb} "
              f"{st['added']} added, {st['removed']} removed, {st['kept']} kept; "
              f"mean affinity {st['mean_affinity']:.3f}, min {st['min_affinity']:.3f}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """`worker --server`: the service's background jobs (app.jobs.worker); otherwise a rig (runners.worker)."""
    if "--server" in args.rest:
        from app.jobs.worker import main as server_main

        return server_main([a for a in args.rest if a != "--server"])
    from runners.worker import main as worker_main

    return worker_main(args.rest)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from runners.reproduce import main as reproduce_main

    return reproduce_main(args.rest)


def cmd_run(args: argparse.Namespace) -> int:
    """Queue a run of a submission's current artifact through the service; print the run's id."""
    from sqlmodel import Session, select

    from app.db import get_engine
    from app.errors import DomainError
    from app.models import Venue
    from app.services.runs import create_run, enqueue_after_commit
    from app.services.submissions import current_artifact, get_submission

    settings = _settings()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        venue = session.exec(select(Venue).where(Venue.slug == args.venue)).first()
        if venue is None:
            print(f"error: there is no venue '{args.venue}'", file=sys.stderr)
            return 2
        try:
            sub = get_submission(session, venue, args.submission)
            run = create_run(session, None, sub, current_artifact(session, sub), rig_kind=args.rig_kind)
            if settings.redis_url:  # without Redis the API's embedded rig picks it up (its sweep finds it)
                enqueue_after_commit(session, settings, run)
            session.commit()
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({"run_id": run.id, "rig_kind": run.rig_kind, "status": run.status, "gpus": run.gpus}))
    else:
        print(run.id)
    return 0


def cmd_check_manifest(args: argparse.Namespace) -> int:
    """Validate a reproduce.toml (or an artifact directory): exit 0 when valid, 2 with line-numbered errors."""
    from app.artifacts.manifest import ManifestError, load_manifest

    try:
        manifest = load_manifest(args.path)
    except ManifestError as exc:
        if args.json:
            print(json.dumps({"ok": False, "errors": [{"line": i.line, "message": i.message} for i in exc.errors]}))
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"ok": True, "rig": manifest.artifact.rig, "experiments": [e.id for e in manifest.experiments],
                          "claims": [c.id for c in manifest.claims]}))
    else:
        print(f"reproduce.toml is valid: {manifest.artifact.rig} rig, {len(manifest.experiments)} experiment(s) "
              f"({', '.join(e.id for e in manifest.experiments)}), {len(manifest.claims)} claim(s)")
    return 0


def cmd_sweep_runs(args: argparse.Namespace) -> int:  # noqa: ARG001
    """Re-queue runs whose rig went silent and enqueue again queued runs the queue lost (cron-friendly)."""
    from sqlmodel import Session

    from app.db import get_engine
    from app.jobs.sweep import sweep_runs

    settings = _settings()
    with Session(get_engine(), expire_on_commit=False) as session:
        report = sweep_runs(settings, session, embedded=False)  # this process runs no embedded rig
    if not settings.redis_url:
        print(f"re-queued {len(report.requeued)} silent run(s); without Redis the API's embedded rig runs queued runs")
        return 0
    print(f"re-queued {len(report.requeued)} silent run(s), enqueued again {len(report.recovered)} lost run(s)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    """Remove blobs no row references (older than the grace period) and crashed writers' temp files (cron-safe)."""
    from sqlmodel import Session

    from app.db import get_engine
    from app.services.artifacts import store
    from app.services.blob_gc import collect_garbage
    from app.storage import human_size

    blobs = store(_settings())
    with Session(get_engine()) as session:
        report = collect_garbage(session, blobs, grace_s=args.grace_hours * 3600, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for sha in report.removed:
        print(f"{verb} {sha}")
    for sha in report.young:
        print(f"kept {sha} (unreferenced, but stored less than {args.grace_hours:g} h ago)")
    print(f"{verb} {len(report.removed)} unreferenced blob(s) ({human_size(report.freed_bytes)}) and "
          f"{report.temp_removed} temp file(s); kept {report.referenced} referenced and {len(report.young)} recent "
          f"unreferenced blob(s)")
    return 0


def cmd_notify(args: argparse.Namespace) -> int:
    """Mail: `digest` queues and sends today's deadline digests; `send` sends pending mail and retries failures."""
    from datetime import datetime

    from app.db import get_engine
    from app.jobs import digest, mail

    settings, engine = _settings(), get_engine()
    if args.notify_command == "digest":
        now = datetime.fromisoformat(args.now) if args.now else None
        if now is not None and now.tzinfo is None:
            print("--now needs a time zone, e.g. 2026-11-24T07:00:00+00:00", file=sys.stderr)
            return 2
        from app.errors import DomainError

        try:
            queued, report = digest.digest({"settings": settings, "engine": engine}, args.venue, now)
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 2
        handed = "; delivery handed to the server-side queue" if report.handed_on else ""
        print(f"queued {queued} digest(s); sent {report.sent}, failed {report.failed}{handed}")
    else:
        report = mail.deliver_pending(settings, engine, retry_failed=True)
        print(f"sent {report.sent}, failed {report.failed}")
    for line in report.errors:
        print(line, file=sys.stderr)
    return 1 if report.failed else 0


def _export_session():  # noqa: ANN202
    """A session on the configured database (tests hand in their own)."""
    from sqlmodel import Session

    from app.db import get_engine

    return Session(get_engine(), expire_on_commit=False)


def cmd_contributions(args: argparse.Namespace) -> int:
    """Who did what in one submission's repository, from the history stored with its latest git artifact."""
    import json

    from app.errors import DomainError
    from app.services import contributions, moderation, venues

    with _export_session() as session:
        try:
            venue = venues.get_venue(session, args.venue)
            result = contributions.contributions(session, venue, moderation.get_submission(session, venue, args.number))
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        finally:
            session.rollback()  # reading changes nothing
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(f"#{result.submission.number} {result.submission.title}")
    if result.note:
        print(f"  {result.note}")
    for p in result.people:
        share = f"{p.last_hours_share:.0%}" if p.last_hours_share is not None else "-"
        who = p.label if p.label in result.members else f"{p.label} (unclaimed)"
        print(f"  {who}: {p.commits} commits ({p.co_authored} co-authored), +{p.added} -{p.removed} lines, "
              f"{len(p.files)} files, last 48 h {share}")
    for reason, row in sorted((result.excluded or {}).items()):
        print(f"  not counted, {reason}: {row['files']} file changes, {row['lines']} lines")
    print(f"  {contributions.CAVEAT}")
    return 0


def cmd_export_marks(args: argparse.Namespace) -> int:
    """The gradebook export: released marks (or a --draft, named so) to standard output or --out; on a problem
    (no marks, a member without the identifier the format needs) exit 2 with the message and write nothing."""
    from app.errors import DomainError
    from app.services import moderation, venues

    with _export_session() as session:
        try:
            venue = venues.get_venue(session, args.venue)
            name, text = moderation.export_marks(session, venue, args.format, draft=args.draft)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        finally:
            session.rollback()  # an export changes nothing
    if args.out:
        out = Path(args.out)
        if args.draft and "DRAFT" not in out.name:
            out = out.with_name(f"{out.stem}-DRAFT{out.suffix}")
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(out)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def cmd_reanonymize(args: argparse.Namespace) -> int:
    """Build a venue's stored reviewer views (masked code, reviewers' PDF copies) again with this version's masker:
    once after an upgrade that masks more. Safe to run again: unchanged views are left alone."""
    from sqlmodel import Session

    from app.db import get_engine
    from app.errors import DomainError
    from app.services import venues
    from app.services.anonymization import reanonymize_venue

    with Session(get_engine()) as session:
        try:
            venue = venues.get_venue(session, args.venue)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        views, pdfs = reanonymize_venue(session, _settings(), None, venue)
        session.commit()
    print(f"{venue.slug}: {views} code view(s) and {pdfs} reviewer PDF cop(ies) rebuilt; the rest were current")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from app.artifacts.manifest import RIGS  # the kernel's list (stdlib only: a rig's install has it too)

    parser = argparse.ArgumentParser(prog="reproreview", description="Peer review of course project papers and code.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the web app and API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the database to the latest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("demo", help="create a realistic demo course (SQLite by default) and serve it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="only create the data")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("create-admin", help="create a site admin (password from REPROREVIEW_ADMIN_PASSWORD or a prompt)")
    p.add_argument("email")
    p.add_argument("--name", default="")
    p.set_defaults(func=cmd_create_admin)

    p = sub.add_parser("import-roster", help="import a Moodle/Learn gradebook CSV into a venue")
    p.add_argument("file", help="CSV file, or - for standard input")
    p.add_argument("--venue", required=True, help="venue short name, e.g. mlsys-2026")
    p.add_argument("--partial", action="store_true", help="import valid rows even if some are rejected")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import_roster)

    p = sub.add_parser("check-pdf", help="check a PDF against the NeurIPS submission format")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.add_argument("--page-limit", type=int, default=9)
    p.add_argument("--camera-ready", action="store_true", help="do not check anonymity")
    p.set_defaults(func=cmd_check_pdf)

    p = sub.add_parser("assign", help="assign reviewers to submissions by embedding affinity")
    p.add_argument("--venue", required=True)
    p.add_argument("--k", type=int, default=3, help="reviewers per submission")
    p.add_argument("--min-load", type=int, default=0)
    p.add_argument("--max-load", type=int, default=4)
    p.add_argument("--include-tas", action="store_true")
    p.add_argument("--fair", action="store_true", help="raise the worst-off submission first")
    p.add_argument("--full", action="store_true",
                   help="re-solve everything (default: keep current pairs, fill open slots; locked pairs always stay)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser("run", help="queue a run of a submission's artifact: reproreview run --venue SLUG 17")
    p.add_argument("submission", type=int, help="the submission's number")
    p.add_argument("--venue", required=True, help="venue short name, e.g. mlsys-2026")
    p.add_argument("--rig-kind", choices=RIGS,
                   help="override the rig the artifact's reproduce.toml asks for")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-manifest", help="validate a reproduce.toml: exit 0 valid, 2 with line-numbered errors")
    p.add_argument("path", help="reproduce.toml, or an artifact directory holding one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check_manifest)

    p = sub.add_parser("sweep-runs", help="re-queue runs of silent rigs and runs the queue lost (run it from cron)")
    p.set_defaults(func=cmd_sweep_runs)

    p = sub.add_parser("gc", help="remove blobs no row references and crashed uploads' temp files (cron-safe)")
    p.add_argument("--grace-hours", type=float, default=1.0,
                   help="only blobs and temp files older than this (default 1): uploads in progress are safe")
    p.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    p.set_defaults(func=cmd_gc)

    p = sub.add_parser("reanonymize", help="build a venue's reviewer views (masked code, PDF copies) again: once "
                                           "after an upgrade")
    p.add_argument("--venue", required=True, help="the venue's slug")
    p.set_defaults(func=cmd_reanonymize)

    p = sub.add_parser("notify", help="email: daily deadline digest, and sending/retrying the outbox (run from cron)")
    nsub = p.add_subparsers(dest="notify_command", required=True)
    d = nsub.add_parser("digest", help="mail each person their deadlines of the next 48 h (once a day)")
    d.add_argument("--venue", help="only this venue (short name)")
    d.add_argument("--now", help="ISO time to compute the digest for (default: now)")
    d.set_defaults(func=cmd_notify)
    s = nsub.add_parser("send", help="send pending mail and retry failed mail")
    s.set_defaults(func=cmd_notify)

    p = sub.add_parser("export-marks", help="export a venue's marks for the gradebook (Moodle, Learn, CSV, JSON)")
    p.add_argument("--venue", required=True, help="venue short name, e.g. mlsys-2026")
    p.add_argument("--format", required=True, choices=["moodle", "learn", "csv", "json"])
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--draft", action="store_true",
                   help="marks not yet released, too (the file name says DRAFT)")
    p.set_defaults(func=cmd_export_marks)

    p = sub.add_parser("contributions", help="who did what in a submission's repository (from its git history)")
    p.add_argument("--venue", required=True, help="venue short name, e.g. mlsys-2026")
    p.add_argument("number", type=int, help="the submission's number")
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.set_defaults(func=cmd_contributions)

    p = sub.add_parser("worker", help="run a rig worker: reproreview worker --rig-kind gpu --api URL --token T; "
                                      "or the service's background jobs (solves) from Redis: reproreview worker --server",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("reproduce", help="run an artifact directory through the runner and sandbox, no server",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_reproduce)
    return parser


# These two are what a rig runs: they import the rig's code only (runners, the kernel), never the server's.
PASS_THROUGH = {"worker": "runners.worker", "reproduce": "runners.reproduce"}
# What the `server` extra adds (pyproject.toml): missing in a rig's install, so say how to get the server.
SERVER_PACKAGES = {"fastapi", "starlette", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "jinja2", "pydantic_settings",
                   "pydantic", "argon2", "itsdangerous", "multipart", "email_validator", "psycopg", "pypdf", "scipy",
                   "ortools", "sentence_transformers", "markdown_it", "nh3"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":  # a rig, or with --server the service's jobs: each owns its options
        return cmd_worker(argparse.Namespace(rest=argv[1:]))
    if argv and argv[0] in PASS_THROUGH:
        # These commands own their options (argparse REMAINDER cannot pass leading --options through).
        import importlib

        return importlib.import_module(PASS_THROUGH[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command not in ("check-pdf", "check-manifest"):
            import app.jobs  # noqa: F401 — the after-commit handlers: what a command's commit records is carried out
        return args.func(args)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        print(f"error: `reproreview {args.command}` needs the server's packages ({exc.name} is missing); this looks "
              "like a rig's install: pip install 'reproreview[server]'", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
