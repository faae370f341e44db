"""``gridmap jobs`` and ``gridmap worker``: the background jobs (webmap/jobs.py) listed, run once,
or run on schedule (one leader across every worker, by a PostgreSQL advisory lock)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import datetime
from typing import Any

import click

from geo.services import jobs as job_service
from webmap.cli.context import Context, Group, main, pass_ctx
from webmap.jobs import JOBS, JobBusy, Runner
from webmap.serving import PARENT_VARIABLE

PARENT_CHECK_SECONDS = 2.0


@main.group(cls=Group)
def jobs() -> None:
    """后台任务：统计归并、超期通知、通知投递、定时备份（不需要 cron，由 gridmap worker / gridmap serve 运行）。"""


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "—"


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="每个任务一行 JSON")
@pass_ctx
def jobs_list(ctx: Context, as_json: bool) -> None:
    """列出任务：间隔、上次运行（时间、用时、结果、累计失败）、下次运行，以及现在有没有调度器在运行。"""
    import json

    runner = Runner(ctx.engine, ctx.config)
    with ctx.session() as session:
        runs = job_service.job_runs(session)
        leader = job_service.leader_present(session)
    upcoming = runner.next_runs()
    for name, job in JOBS.items():
        run: dict[str, Any] = runs.get(name, {})
        seconds = runner.interval(name)
        if as_json:
            click.echo(json.dumps({"name": name, "interval_seconds": seconds, "runs": run.get("runs", 0),
                                   "failures": run.get("failures", 0), "last_ok": run.get("last_ok"),
                                   "last_started_at": run["last_started_at"].isoformat() if run else None,
                                   "last_seconds": run.get("last_seconds"), "last_error": run.get("last_error"),
                                   "last_result": run.get("last_result"),
                                   "next_run_at": upcoming[name].isoformat() if name in upcoming else None},
                                  ensure_ascii=False))
            continue
        every = f"每 {seconds:g} 秒" if seconds else "关闭"
        last = (f"上次 {_when(run.get('last_started_at'))}，用时 {run['last_seconds']:.2f} 秒，"
                f"{'成功' if run['last_ok'] else '失败'}（共 {run['runs']} 次，失败 {run['failures']} 次）"
                if run else "从未运行")
        click.echo(f"{name:<15} {every:<12} {last}；下次 {_when(upcoming.get(name))}")
        click.echo(f"{'':<15} {job.description}")
        if run and not run["last_ok"] and run.get("last_error"):
            click.echo(f"{'':<15} 上次错误：{run['last_error']}")
    click.echo("调度器：" + ("运行中（有一个 gridmap worker 在主持）" if leader else
                          "没有在运行：启动 gridmap serve 或 gridmap worker"), err=True)


@jobs.command("run")
@click.argument("name", type=click.Choice(list(JOBS)))
@pass_ctx
def jobs_run(ctx: Context, name: str) -> None:
    """现在运行一次任务 NAME（与调度器互斥：同一任务正在别处运行时退出 1）。"""
    runner = Runner(ctx.engine, ctx.config)
    try:
        result = runner.run(name)
    except JobBusy:
        click.secho(f"任务 {name} 正在别处运行（调度器或另一个 gridmap jobs run），稍后再试。", fg="red", err=True)
        sys.exit(1)
    except Exception as exc:
        click.secho(f"任务 {name} 失败：{type(exc).__name__}: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"任务 {name} 完成：{result}")


def _watch_parent(pid: int, stop: threading.Event) -> None:
    """Started by ``gridmap serve``: stop when the server is gone (re-parented), however it ended."""
    while not stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != pid:
            stop.set()


@main.command("worker")
@pass_ctx
def worker(ctx: Context) -> None:
    """运行后台任务调度器直到收到 SIGTERM/Ctrl-C。可在多台机器上各运行一个：同一时刻只有一个主持
    （PostgreSQL advisory lock），它停止后另一个在几秒内接替。gridmap serve 会自动启动一个。"""
    from webmap.observability import configure_logging

    configure_logging(ctx.config["GRIDMAP_LOG_FORMAT"], ctx.config["GRIDMAP_LOG_LEVEL"])
    runner = Runner(ctx.engine, ctx.config)
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    parent = os.environ.get(PARENT_VARIABLE)
    if parent:
        threading.Thread(target=_watch_parent, args=(int(parent), stop), daemon=True, name="parent-watch").start()
    click.echo("gridmap worker：等待或主持后台任务调度器（Ctrl-C 停止）", err=True)
    runner.serve_forever(stop)
