"""Run the push plan with APScheduler: jobs in the project's database, one scheduler at a time.

On start the plan is re-read: jobs are added or moved for pushes still to come, removed for
pushes no longer planned, overdue pushes are sent within the grace period or marked missed.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from bot.storage.db import describe_db_error
from bot.storage.models import PushLog, utcnow
from bot.quiz.rules import closes_at_utc
from bot.storage import signed_requests
from bot.storage.counters import purge_expired_counts
from bot.runtime import Runtime

from scheduler.lease import LeaseState, acquire_lease, holds_lease, new_holder, release_lease
from scheduler.plan import PlannedPush, build_plan, scheduler_options
from scheduler.pushlog import ensure_row, mark_missed
from scheduler.sending import mass_client, preview_push, send_push
from scheduler.timing import INTERRUPTED, MISS, SEND, WAIT, due_action

logger = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
PUSH_JOB = "push:"
PREVIEW_JOB = "preview:"
TIDY_MINUTES = 10  # how often the ended rate-limit windows are deleted

# The runner whose jobs this process executes; job functions stay module-level with plain ids.
_active: "Runner | None" = None


def run_push(key: str) -> None:
    """Send the planned push `key` if it is due (APScheduler job)."""
    if _active is None:
        logger.warning("push %s fired with no running scheduler; ignored", key)
        return
    _active.run_push(key)


def run_preview(key: str) -> None:
    """Preview the planned push `key` to the staff openids (APScheduler job)."""
    if _active is None:
        logger.warning("preview %s fired with no running scheduler; ignored", key)
        return
    _active.run_preview(key)


def renew_lease() -> None:
    """Renew this scheduler's lease (APScheduler job in the in-memory store)."""
    if _active is not None:
        _active.renew()


def tidy() -> None:
    """Delete ended rate-limit windows (APScheduler job in the in-memory store)."""
    if _active is not None:
        _active.tidy()


def close_quiz() -> None:
    """End the attempts still open when answering closed (APScheduler job at quiz.closes_at)."""
    if _active is not None:
        _active.close_quiz()


# Ending an attempt is the conversation engine's (one writer per change), a layer above this one:
# it is imported by name when the job runs, as bot.config imports the sections' modules.
CLOSING_MODULE = "bot.conversation.engine"


def _missed_error(push: PlannedPush, grace_minutes: int) -> str:
    return (f"计划时间 {push.at:%m-%d %H:%M} 已过去超过宽限期 {grace_minutes} 分钟（调度器当时未运行），"
            "按规定不再补发")


INTERRUPTED_ERROR = ("发送中断且已超过宽限期，无法确认是否已发出：请在公众号后台“已群发”中核实；"
                     "如未发出，可运行 pushes send KEY 补发")


class Runner:
    """One scheduler: the lease, the APScheduler instance and the plan it runs."""

    def __init__(self, runtime: Runtime, *, holder: str | None = None):
        self.runtime = runtime
        self.config = runtime.config
        self.options = scheduler_options(runtime.config)
        self.holder = holder or new_holder()
        self.plan: dict[str, PlannedPush] = {}
        self.scheduler: BackgroundScheduler | None = None
        self.api = None
        self.lease: LeaseState | None = None
        self.lost = False
        self.stopped = threading.Event()

    @property
    def running(self) -> bool:
        return self.scheduler is not None

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.options.grace_minutes)

    def start(self) -> LeaseState:
        """Take the lease and start scheduling; if another scheduler holds it, return who does."""
        global _active
        plan = build_plan(self.config)
        self.lease = acquire_lease(db=self.runtime.db, holder=self.holder, seconds=self.options.lease_seconds)
        if not self.lease.acquired:
            return self.lease
        self.plan = {push.key: push for push in plan}
        self.api = mass_client(self.runtime)
        grace_seconds = max(int(self.grace.total_seconds()), 1)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.runtime.db.engine, tablename=JOBS_TABLE),
                       "local": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "misfire_grace_time": grace_seconds, "max_instances": 1},
            timezone=self.config.activity.tz,
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        _active = self
        self.scheduler.start(paused=True)
        self._sync()
        self.scheduler.add_job(renew_lease, "interval", seconds=max(self.options.lease_seconds / 3, 1),
                               id="lease", jobstore="local", replace_existing=True)
        self.scheduler.add_job(tidy, "interval", minutes=TIDY_MINUTES, id="tidy", jobstore="local",
                               replace_existing=True)
        closes = closes_at_utc(self.config)
        if closes > utcnow():
            self.scheduler.add_job(close_quiz, "date", run_date=self.config.quiz.closes_at, id="close-quiz",
                                   jobstore="local", replace_existing=True, misfire_grace_time=None)
        self.scheduler.resume()
        logger.info("scheduler %s started with %d planned push(es)", self.holder, len(self.plan))
        return self.lease

    def _sync(self) -> None:
        """Bring jobs and the push log in line with the plan as it is now."""
        now = utcnow()
        now_local = dt.datetime.now(self.config.activity.tz)
        jobs: list[tuple] = []
        # Decide and commit first: the job store writes on its own connection (SQLite: one writer).
        with self.runtime.db.session() as session:
            session.execute(delete(PushLog).where(PushLog.key.not_in(list(self.plan)),
                                                  PushLog.status.in_(("planned", "previewed"))))
            for push in self.plan.values():
                row = ensure_row(session, push, lock=True)
                action = due_action(status=row.status, planned_at=push.at_utc, now=now, grace=self.grace)
                if action == MISS:
                    logger.warning("push %s missed: due %s, beyond the grace period", push.key, push.at)
                    mark_missed(session, push, now=now, error=_missed_error(push, self.options.grace_minutes))
                elif action == INTERRUPTED:
                    logger.error("push %s was interrupted mid-send beyond the grace period", push.key)
                    mark_missed(session, push, now=now, error=INTERRUPTED_ERROR)
                elif action in (SEND, WAIT):
                    jobs.append((run_push, PUSH_JOB + push.key, push.at if action == WAIT else now_local, push.key))
                    preview_at = push.at - dt.timedelta(minutes=self.options.preview_minutes_before)
                    if (action == WAIT and self.options.preview_minutes_before and self.config.wechat.staff_openids
                            and row.previewed_at is None and preview_at > now_local):
                        jobs.append((run_preview, PREVIEW_JOB + push.key, preview_at, push.key))
        for job in jobs:
            self._add(*job)
        wanted = {job[1] for job in jobs}
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id not in wanted:
                logger.info("removing job %s (no longer planned or already done)", job.id)
                job.remove()

    def _add(self, func, job_id: str, run_at: dt.datetime, key: str) -> None:
        self.scheduler.add_job(func, "date", run_date=run_at, args=[key], id=job_id, name=job_id,
                               jobstore="default", replace_existing=True)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if not event.job_id.startswith(PUSH_JOB):
            return
        push = self.plan.get(event.job_id.removeprefix(PUSH_JOB))
        if push is not None:
            logger.warning("push %s missed: the scheduler could not run it in time", push.key)
            with self.runtime.db.session() as session:
                mark_missed(session, push, now=utcnow(), error=_missed_error(push, self.options.grace_minutes))

    def run_push(self, key: str) -> None:
        """Send a push if it is still due, or record it as missed."""
        push = self.plan.get(key)
        if push is None:
            logger.warning("push %s is no longer in the plan; not sent", key)
            return
        if not holds_lease(db=self.runtime.db, holder=self.holder):
            logger.error("push %s not sent: this scheduler no longer holds the lease", key)
            return
        now = utcnow()
        with self.runtime.db.session() as session:
            row = ensure_row(session, push)
            action = due_action(status=row.status, planned_at=push.at_utc, now=now, grace=self.grace)
            if action == MISS:
                mark_missed(session, push, now=now, error=_missed_error(push, self.options.grace_minutes))
            elif action == INTERRUPTED:
                mark_missed(session, push, now=now, error=INTERRUPTED_ERROR)
        if action == SEND:
            send_push(runtime=self.runtime, push=push, api=self.api)
        elif action == WAIT:
            self._add(run_push, PUSH_JOB + key, push.at, key)

    def run_preview(self, key: str) -> None:
        """Preview a push to every staff openid, unless it has gone out already."""
        push = self.plan.get(key)
        if push is None or not holds_lease(db=self.runtime.db, holder=self.holder):
            return
        with self.runtime.db.reader() as session:
            row = session.get(PushLog, key)
            if row is not None and row.status not in ("planned", "previewed"):
                return
        for openid in self.config.wechat.staff_openids:
            preview_push(runtime=self.runtime, push=push, openid=openid, api=self.api)

    def renew(self) -> None:
        """Renew the lease; if another scheduler has taken it, stop sending."""
        state = acquire_lease(db=self.runtime.db, holder=self.holder, seconds=self.options.lease_seconds)
        if state.acquired:
            self.lease = state
            return
        logger.error("scheduler lease taken by %s; this scheduler stops sending", state.holder)
        self.lost = True
        self.scheduler.pause()
        self.stopped.set()

    def close_quiz(self) -> int:
        """End and score, at the close, the attempts still open when answering closed."""
        try:
            return importlib.import_module(CLOSING_MODULE).close_open_attempts(runtime=self.runtime)
        except SQLAlchemyError as exc:
            logger.warning("open attempts not ended at the close (tried again in %d min): %s", TIDY_MINUTES,
                           describe_db_error(exc))
            return 0

    def tidy(self) -> int:
        """Delete the rate-limit counters of ended windows, which would otherwise stay one per follower,
        and the signed requests whose window has passed (one per message); after the close, end any
        attempt still open (one the job at the close missed)."""
        if utcnow() > closes_at_utc(self.config):
            self.close_quiz()
        try:
            with self.runtime.db.session() as session:
                now = utcnow()
                removed = purge_expired_counts(session=session, now=now)
                removed += signed_requests.purge_expired(session=session, now=now)
        except SQLAlchemyError as exc:
            logger.warning("rate-limit counters not tidied (tried again in %d min): %s", TIDY_MINUTES,
                           describe_db_error(exc))
            return 0
        if removed:
            logger.info("deleted %d ended rate-limit window(s) and used signatures", removed)
        return removed

    def shutdown(self) -> None:
        """Stop scheduling (waiting for a send in progress) and give the lease up."""
        global _active
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if _active is self:
            _active = None
        if self.lease is not None and self.lease.acquired and not self.lost:
            release_lease(db=self.runtime.db, holder=self.holder)
        self.stopped.set()


def start_background(runtime: Runtime) -> Runner:
    """Run the scheduler in this process (for serve); without the lease, warn and schedule nothing."""
    runner = Runner(runtime)
    state = runner.start()
    if not state.acquired:
        logger.warning("另一个调度器正在运行（%s，租约至 UTC %s）；本进程不发送推送。", state.holder,
                       f"{state.expires_at:%Y-%m-%d %H:%M:%S}")
    return runner
