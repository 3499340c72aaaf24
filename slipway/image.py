"""Building the agent image, with progress, from the Dockerfile shipped in this package."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import docker
from docker.errors import ImageNotFound

IMAGE_CONTEXT = Path(__file__).parent / "agent_image"
CONTEXT_LABEL = "org.slipway.context-hash"


def context_hash(context: Path = IMAGE_CONTEXT) -> str:
    """A digest of the build context, so an image built from older files is seen as stale."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def image_is_current(client: docker.DockerClient, tag: str) -> bool:
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return False
    return (image.labels or {}).get(CONTEXT_LABEL) == context_hash()


class ImageBuildError(RuntimeError):
    pass


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def build_agent_image(
    client: docker.DockerClient,
    tag: str,
    base_image: str,
    progress: Callable[[str], None] = lambda _line: None,
) -> None:
    """Build the agent image `tag` on `base_image`, reporting each build line to `progress`."""
    progress(f"building {tag} on {base_image}")
    build_image(
        client,
        tag,
        IMAGE_CONTEXT,
        {"BASE_IMAGE": base_image},
        progress,
        labels={CONTEXT_LABEL: context_hash()},
    )


def build_image(
    client: docker.DockerClient,
    tag: str,
    context: Path,
    buildargs: dict[str, str],
    progress: Callable[[str], None] = lambda _line: None,
    labels: dict[str, str] | None = None,
) -> None:
    stream = client.api.build(
        path=str(context),
        tag=tag,
        buildargs=buildargs,
        rm=True,
        forcerm=True,
        decode=True,
        pull=False,
        labels=labels,
    )
    for chunk in stream:
        if "error" in chunk:
            raise ImageBuildError(str(chunk["error"]).strip())
        text = chunk.get("stream") or chunk.get("status")
        if text and text.strip():
            progress(text.rstrip())
    if not image_exists(client, tag):
        raise ImageBuildError(f"build finished but {tag} is missing")
    progress(f"built {tag}")
