"""``gridmap serve``: the web pages and API behind a production WSGI server."""

from __future__ import annotations

import click

from webmap.cli.context import Context, main
from webmap.cli.db import db_upgrade
from webmap.cli.demo import demo


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, help="工作进程数（默认 GRIDMAP_SERVE_WORKERS；1 表示单进程 waitress）")
@click.option("--threads", type=int, help="每个进程的线程数（默认 GRIDMAP_SERVE_THREADS）")
@click.option("--upgrade", is_flag=True, help="先升级数据库结构（同 gridmap db upgrade）")
@click.option("--demo-if-empty", is_flag=True, help="数据库没有边界时先加载示例数据（同 gridmap demo --if-empty）")
@click.option("--no-warm", is_flag=True, help="不预编译热点分析（Gi*）；第一次热点请求会慢（测试用）")
@click.option("--jobs/--no-jobs", default=None,
              help="在旁边启动后台任务进程 gridmap worker（默认 GRIDMAP_JOBS=1 时启动；另有 worker 服务时 --no-jobs）")
@click.pass_context
def serve(click_ctx: click.Context, host: str, port: int, workers: int | None, threads: int | None,
          upgrade: bool, demo_if_empty: bool, no_warm: bool, jobs: bool | None) -> None:
    """用生产级 WSGI 服务器提供网页和 API：gunicorn 多进程（或 waitress 单进程）。"""
    from webmap.serving import serve as run_server

    if upgrade:
        click_ctx.invoke(db_upgrade)
    if demo_if_empty:
        click_ctx.invoke(demo, if_empty=True)
    ctx = click_ctx.ensure_object(Context)

    workers = workers or ctx.config["GRIDMAP_SERVE_WORKERS"]
    threads = threads or ctx.config["GRIDMAP_SERVE_THREADS"]
    click.echo(f"gridmap 启动中：http://{host}:{port}/ （{workers} 个进程 × {threads} 个线程，Ctrl-C 停止）")
    if jobs is None:
        jobs = str(ctx.config["GRIDMAP_JOBS"]).strip().lower() not in ("0", "false", "no", "off", "")
    run_server(host=host, port=port, workers=workers, threads=threads, warm_hotspots=not no_warm, jobs=jobs)
