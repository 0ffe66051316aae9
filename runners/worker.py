"""The arq worker a rig runs: one queue per rig kind (`reproreview:<kind>`), jobs are `run_artifact`.

Run it as `reproreview worker --rig-kind local --api URL --token rig_… [--burst]`, or with arq itself:
`REPROREVIEW_RIG_KIND=local REPROREVIEW_API_URL=… REPROREVIEW_RIG_TOKEN=… arq runners.worker.WorkerSettings`.
The worker never touches the database: everything goes through the API with the rig token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile

from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker

from runners.client import RigApiError, RigClient
from runners.jobs import claim_work_root, release_work_root, remove_dead_work_roots, rig_facts, run_artifact
from runners.queues import JOB_NAME, RIG_KINDS, queue_name

JOB_TIMEOUT_S = 6 * 3600
RIG_HEARTBEAT_S = 15.0
log = logging.getLogger("reproreview.worker")


async def _beat(ctx: dict) -> None:
    """Tell the API this rig is alive (and what it runs on) while the worker runs."""
    facts = await asyncio.to_thread(rig_facts)
    while True:
        try:
            await asyncio.to_thread(ctx["client"].heartbeat, facts)
        except RigApiError as exc:
            log.warning("rig heartbeat failed: %s", exc)
            if exc.status == 401:
                log.error("the API refuses this rig's token: check --token")
        await asyncio.sleep(RIG_HEARTBEAT_S)


async def startup(ctx: dict) -> None:
    if "client" not in ctx:
        api, token = os.environ.get("REPROREVIEW_API_URL"), os.environ.get("REPROREVIEW_RIG_TOKEN")
        if not api or not token:
            raise SystemExit("set REPROREVIEW_API_URL and REPROREVIEW_RIG_TOKEN (the rig's token from /rigs)")
        ctx["client"] = RigClient(api, token)
        ctx["sandbox"] = os.environ.get("REPROREVIEW_UNSAFE_NO_SANDBOX") != "1"
    if "work_root" not in ctx:
        # A worker killed mid-run left its bundle and the students' code in the temp dir: clean that up first.
        await asyncio.to_thread(remove_dead_work_roots)
        ctx["work_root"], ctx["work_lock"] = claim_work_root()
        # Everything this worker's runs put in the temp dir (the sandbox's copy of the code, an mcu build)
        # goes under its own directory, so one that is killed leaves one directory the next worker removes.
        ctx["tempdir_before"], tempfile.tempdir = tempfile.tempdir, str(ctx["work_root"])
    # One heartbeat before the first job: the API learns this machine's GPU count before any claim.
    try:
        await asyncio.to_thread(ctx["client"].heartbeat, await asyncio.to_thread(rig_facts))
    except RigApiError as exc:
        log.warning("first rig heartbeat failed: %s", exc)
    ctx["beat"] = asyncio.create_task(_beat(ctx))


async def shutdown(ctx: dict) -> None:
    beat = ctx.pop("beat", None)
    if beat is not None:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    client = ctx.get("client")
    if client is not None:
        client.close()
    if "work_lock" in ctx:
        tempfile.tempdir = ctx.pop("tempdir_before", None)
        release_work_root(ctx.pop("work_root"), ctx.pop("work_lock"))


class WorkerSettings:
    """`arq runners.worker.WorkerSettings`, configured from REPROREVIEW_* environment variables."""

    functions = [func(run_artifact, name=JOB_NAME, max_tries=3)]
    queue_name = queue_name(os.environ.get("REPROREVIEW_RIG_KIND", "local"))
    redis_settings = RedisSettings.from_dsn(os.environ.get("REPROREVIEW_REDIS_URL", "redis://127.0.0.1:6379/0"))
    poll_delay = 0.05
    max_jobs = int(os.environ.get("REPROREVIEW_WORKER_MAX_JOBS", "1"))
    job_timeout = JOB_TIMEOUT_S
    keep_result = 3600
    on_startup = startup
    on_shutdown = shutdown


def build_worker(*, rig_kind: str, api_url: str, token: str, redis_url: str, burst: bool = False,
                 max_jobs: int = 1, sandbox: bool = True, handle_signals: bool = True,
                 client: object | None = None) -> Worker:
    """A Worker with WorkerSettings' choices and an explicit client (tests pass their own)."""
    ctx = {"client": client or RigClient(api_url, token), "sandbox": sandbox}
    return Worker(functions=WorkerSettings.functions, queue_name=queue_name(rig_kind),
                  redis_settings=RedisSettings.from_dsn(redis_url), burst=burst, poll_delay=WorkerSettings.poll_delay,
                  max_jobs=max_jobs, job_timeout=JOB_TIMEOUT_S, keep_result=WorkerSettings.keep_result,
                  on_startup=startup, on_shutdown=shutdown, ctx=ctx, handle_signals=handle_signals)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reproreview worker", description="Run artifacts for the API, as a rig.")
    p.add_argument("--rig-kind", choices=RIG_KINDS, default=os.environ.get("REPROREVIEW_RIG_KIND", "local"))
    p.add_argument("--api", default=os.environ.get("REPROREVIEW_API_URL"), help="the API's base URL")
    p.add_argument("--token", default=os.environ.get("REPROREVIEW_RIG_TOKEN"), help="the rig's token (rig_…)")
    p.add_argument("--redis", default=os.environ.get("REPROREVIEW_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--max-jobs", type=int, default=int(os.environ.get("REPROREVIEW_WORKER_MAX_JOBS", "1")))
    p.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run artifacts without bubblewrap (only for code you trust)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.api or not args.token:
        print("error: give --api URL and --token rig_… (or REPROREVIEW_API_URL / REPROREVIEW_RIG_TOKEN)",
              file=sys.stderr)
        return 2
    if not args.token.startswith("rig_"):
        print("error: a rig token starts with rig_ (create one on the Rigs page or POST /api/v1/rigs)",
              file=sys.stderr)
        return 2
    if args.unsafe_no_sandbox:
        log.warning("running artifacts WITHOUT a sandbox: only for code you trust")
    worker = build_worker(rig_kind=args.rig_kind, api_url=args.api, token=args.token, redis_url=args.redis,
                          burst=args.burst, max_jobs=max(1, args.max_jobs), sandbox=not args.unsafe_no_sandbox)
    worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
