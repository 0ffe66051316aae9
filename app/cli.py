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


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, proxy_headers=True, log_level="info")


def cmd_serve(args: argparse.Namespace) -> int:
    from app.db import get_engine
    from app.migrate import DatabaseNotMigrated, ensure_migrated

    try:
        ensure_migrated(get_engine())
    except DatabaseNotMigrated as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _serve(args.host, args.port, args.workers)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.db import get_engine
    from app.demo import DEMO_PASSWORD, DEMO_SLUG, demo_logins, seed_demo
    from app.migrate import upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    with Session(get_engine()) as session:
        seed_demo(session)
        session.commit()
        logins = demo_logins(session)
    url = f"http://{args.host}:{args.port}"
    print(f"\nReproReview demo: {url}/venues/{DEMO_SLUG}  (database: {settings.resolved_database_url})")
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

    with Session(get_engine()) as session:
        try:
            venue = venues.get_venue(session, args.venue)
            actor = session.exec(select(User).where(User.is_admin == True)).first()  # noqa: E712
            plan = assignments.auto_assign(session, settings, actor, venue, k=args.k, min_load=args.min_load,
                                           max_load=args.max_load, include_tas=args.include_tas, fair=args.fair,
                                           dry_run=args.dry_run, progress=progress)
        except Infeasible as exc:
            print(f"\nerror: no assignment is possible: {exc}", file=sys.stderr)
            return 2
        except DomainError as exc:
            print(f"\nerror: {exc.message}", file=sys.stderr)
            return 2
        if not args.dry_run:
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
    from runners.worker import main as worker_main

    return worker_main(args.rest)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from app.artifacts.reproduce import main as reproduce_main

    return reproduce_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
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
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser("worker", help="run a rig worker: reproreview worker --rig-kind gpu --api URL --token T",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("reproduce", help="run an artifact directory through the runner and sandbox, no server",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_reproduce)
    return parser


PASS_THROUGH = {"worker": "runners.worker", "reproduce": "app.artifacts.reproduce"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASS_THROUGH:
        # These commands own their options (argparse REMAINDER cannot pass leading --options through).
        import importlib

        return importlib.import_module(PASS_THROUGH[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
