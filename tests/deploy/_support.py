"""Shared helpers for the ops tests: paths, compose loading, env-file parsing."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
COMPOSE = ROOT / "compose.yaml"
TEMPLATE_ENV = TEMPLATES / "template.env"

# ${VAR}, ${VAR:-default}, ${VAR:?message}, $VAR — after removing the $$ escape.
_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def parse_env_file(path: Path) -> dict[str, str]:
    """Active KEY=value lines of an env file (comments and blanks ignored)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = _ENV_LINE.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) in a loaded YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def variables(text: str) -> set[str]:
    """Names compose would interpolate in ``text`` (``$$`` is a literal dollar)."""
    text = text.replace("$$", "")
    return {a or b for a, b in _VAR_RE.findall(text)}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {k: v for k, v in pairs}
    return {k: None if v is None else str(v) for k, v in env.items()}


def option(cmd: list[str], *names: str) -> str | None:
    """Value of a command-line option given as ``-x v``, ``--xx v`` or ``--xx=v``."""
    for i, arg in enumerate(cmd):
        for name in names:
            if arg == name and i + 1 < len(cmd):
                return cmd[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def is_celery(cmd: list[str], sub: str) -> bool:
    """True when ``cmd`` runs ``celery ... <sub>`` (worker, beat, flower)."""
    return bool(cmd) and Path(cmd[0]).name == "celery" and sub in cmd


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) for every volume, short or long syntax."""
    out = []
    for vol in service.get("volumes", []):
        if isinstance(vol, str):
            parts = vol.split(":")
            # ${VAR:?msg}:/target:ro — the source may itself contain a colon.
            if vol.startswith("${"):
                end = vol.index("}") + 1
                parts = [vol[:end], *vol[end + 1 :].split(":")]
            src, tgt = parts[0], parts[1]
            mode = parts[2] if len(parts) > 2 else "rw"
            out.append((src, tgt, "ro" in mode.split(",")))
        else:
            out.append((vol.get("source", ""), vol["target"], bool(vol.get("read_only"))))
    return out
