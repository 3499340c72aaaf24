"""Git operations on repositories and run workspaces (gitpython + the git CLI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import git

GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "LC_ALL": "C",
    # Whatever URL a client sends, git uses no transport but these (never `ext::` and kin).
    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
}
REMOTE_TIMEOUT = 60
TRAILER = "Slipway-Run"

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+$")
_URL = re.compile(r"^(https?|ssh|git|file)://[^\s]+$")
_REF_SAFE = re.compile(r"^[A-Za-z0-9._/-]+$")


class GitError(RuntimeError):
    pass


class PushRejected(GitError):
    """The remote refused the update (its branch has commits ours does not)."""


def _explain(output: str, fallback: str) -> str:
    """git's most telling line: an error or a rejection rather than the closing hint."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "!")):
            return line
    lines = [line for line in lines if not line.startswith("hint:")]
    return lines[-1] if lines else fallback


def normalize_repository_url(url: str) -> str:
    """Accepts a remote URL or a local path; returns what git should be given. Raises
    ValueError for anything git could mistake for an option or that we do not handle."""
    url = url.strip()
    if not url or url.startswith("-") or "\n" in url or "\x00" in url:
        raise ValueError("repositoryUrl must be a git URL or a local path")
    if _URL.match(url) or _SCP_LIKE.match(url):
        return url
    if "://" in url:
        raise ValueError("repositoryUrl scheme must be https, http, ssh, git or file")
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = path.resolve()
    return str(path)


def validate_branch_name(name: str) -> str:
    if (
        not name
        or not _REF_SAFE.match(name)
        or name.startswith(("-", "/"))
        or name.endswith((".", "/", ".lock"))
        or ".." in name
        or "//" in name
    ):
        raise ValueError(f"invalid branch name {name!r}")
    return name


def _run(args: list[str], cwd: Path | None = None, timeout: float = REMOTE_TIMEOUT) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from e
    if proc.returncode != 0:
        message = _explain(proc.stderr + "\n" + proc.stdout, f"git {args[0]} failed")
        if args[0] == "push" and "[rejected]" in proc.stdout + proc.stderr:
            raise PushRejected(message)
        raise GitError(message)
    return proc.stdout


@dataclass
class RemoteInfo:
    default_branch: str
    heads: dict[str, str]  # branch -> sha


def probe_remote(url: str) -> RemoteInfo:
    """`git ls-remote`: proves the repository can be reached and finds its default branch."""
    out = _run(["ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*"])
    default = None
    heads: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("ref: "):
            ref, _, name = line[5:].partition("\t")
            if name == "HEAD" and ref.startswith("refs/heads/"):
                default = ref[len("refs/heads/") :]
            continue
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            heads[ref[len("refs/heads/") :]] = sha
    if not heads:
        raise GitError("the repository has no branches (push a first commit)")
    if default not in heads:
        default = next((b for b in ("main", "master") if b in heads), sorted(heads)[0])
    return RemoteInfo(default, heads)


def prepare_workspace(url: str, workspace: Path, branch: str, base_branch: str) -> str:
    """Clone `url` into `workspace` on a new `branch` from `base_branch`; returns the base sha.

    Idempotent: a workspace already on `branch` is kept as it is (a retried activity must not
    throw away what an agent wrote)."""
    marker = workspace / ".slipway" / "base_sha"
    if (workspace / ".git").is_dir() and marker.is_file():
        repo = git.Repo(workspace)
        if repo.active_branch.name == branch:
            return marker.read_text().strip()
    if workspace.exists():
        _rmtree(workspace)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    _run(["clone", "--no-checkout", "--origin", "origin", "--", url, str(workspace)], timeout=600)
    _run(["checkout", "-q", "-b", branch, f"origin/{base_branch}"], cwd=workspace)
    base_sha = _run(["rev-parse", "HEAD"], cwd=workspace).strip()
    # Slipway's own files live beside the agent's work but never in its diff or commit.
    with open(workspace / ".git" / "info" / "exclude", "a", encoding="utf-8") as f:
        f.write("\n/.slipway/\n")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(base_sha + "\n")
    return base_sha


def _rmtree(path: Path) -> None:
    # Containers run as the worker's own uid, so everything they wrote is ours to remove.
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class FileChange:
    path: str
    change: str
    additions: int
    deletions: int
    binary: bool
    diff: str


def snapshot(workspace: Path) -> str:
    """A commit object of the whole working tree (tracked and untracked, minus ignored) on top
    of HEAD, made with a throw-away index so the workspace and its branch are untouched."""
    index = workspace / ".slipway" / "snapshot.index"
    index.unlink(missing_ok=True)
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(index)}

    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=workspace, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    run("read-tree", "HEAD")
    run("add", "-A")
    tree = run("write-tree")
    sha = run(
        "-c",
        "user.name=Slipway",
        "-c",
        "user.email=slipway@localhost",
        "commit-tree",
        tree,
        "-p",
        "HEAD",
        "-m",
        "slipway snapshot",
    )
    index.unlink(missing_ok=True)
    return sha


def changes_between(workspace: Path, base: str, head: str) -> list[FileChange]:
    numstat = _run(["diff", "--numstat", "-z", "--no-renames", base, head], cwd=workspace)
    status = _run(["diff", "--name-status", "-z", "--no-renames", base, head], cwd=workspace)
    kinds: dict[str, str] = {}
    parts = status.split("\0")
    for i in range(0, len(parts) - 1, 2):
        kinds[parts[i + 1]] = {"A": "added", "D": "deleted"}.get(parts[i][:1], "modified")
    changes = []
    for entry in numstat.split("\0"):
        if not entry:
            continue
        adds, dels, path = entry.split("\t", 2)
        binary = adds == "-"
        diff = _run(["diff", "--no-renames", base, head, "--", path], cwd=workspace)
        changes.append(
            FileChange(
                path=path,
                change=kinds.get(path, "modified"),
                additions=0 if binary else int(adds),
                deletions=0 if binary else int(dels),
                binary=binary,
                diff=diff,
            )
        )
    return changes


def commit_all(
    workspace: Path, run_id: int, message: str, author_name: str, author_email: str
) -> str:
    """Commit everything on the run branch; idempotent through a `Slipway-Run` trailer."""
    repo = git.Repo(workspace)
    head = repo.head.commit
    trailer = f"{TRAILER}: {run_id}"
    base_sha = (workspace / ".slipway" / "base_sha").read_text().strip()
    if head.hexsha != base_sha and trailer in str(head.message):
        return head.hexsha
    # A git killed with its worker leaves its lock behind; nothing else writes this workspace.
    (workspace / ".git" / "index.lock").unlink(missing_ok=True)
    _run(["add", "-A"], cwd=workspace)
    full_message = f"{message.rstrip()}\n\n{trailer}\n"
    _run(
        [
            "-c",
            f"user.name={author_name}",
            "-c",
            f"user.email={author_email}",
            "commit",
            "-q",
            "--allow-empty",
            "--no-verify",
            "--author",
            f"{author_name} <{author_email}>",
            "-m",
            full_message,
        ],
        cwd=workspace,
    )
    return _run(["rev-parse", "HEAD"], cwd=workspace).strip()


def push_branch(workspace: Path, branch: str) -> str:
    """Push the run branch to origin; pushing what the remote already has is not an error."""
    sha = _run(["rev-parse", "HEAD"], cwd=workspace).strip()
    try:
        _run(
            ["push", "--porcelain", "origin", f"refs/heads/{branch}:refs/heads/{branch}"],
            cwd=workspace,
            timeout=600,
        )
    except PushRejected as e:
        raise PushRejected(
            f"the remote already has a branch {branch} with commits this run does not have ({e})"
        ) from e
    return sha
