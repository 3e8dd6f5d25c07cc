"""The Java virtual machine Bio-Formats runs in: started lazily, once, in the reading process.

Fork safety: a JVM does not survive ``fork()`` (its threads are not copied), so it must
never run in a process that forks afterwards.  Nothing imports :mod:`jpype` at module
level, so a Celery worker's prefork parent never loads it; the worker marks its parent
with :func:`forbid_here` (``worker_init`` signal) and :func:`ensure_jvm` refuses to start
a JVM in that process id.  Pool children (other pids) start their own JVM on the first
Bio-Formats read and keep it until they exit; they never fork.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
from pathlib import Path

from platequeue.omero._repo import PixelsFileError

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_forbidden_pid: int | None = None
_started_with: str | None = None


class BioFormatsUnavailable(PixelsFileError):
    """No Java runtime or no Bio-Formats jar here: the image cannot be read on this host."""


def forbid_here() -> None:
    """Refuse to start a JVM in this process (a parent that will fork pool children)."""
    global _forbidden_pid
    _forbidden_pid = os.getpid()


def jvm_started() -> bool:
    """Whether this process runs a JVM (without importing JPype when it was never loaded)."""
    import sys

    jpype = sys.modules.get("jpype")
    return bool(jpype is not None and jpype.isJVMStarted())


def find_jvm(java_home: str | None) -> str:
    """Path of ``libjvm.so``: under *java_home* when given, else JPype's default search."""
    if java_home:
        hits = sorted(glob.glob(os.path.join(java_home, "**", "libjvm.so"), recursive=True))
        if not hits:
            raise BioFormatsUnavailable(
                f"Java runtime not found: no libjvm.so under JAVA_HOME={java_home}; install "
                "default-jre-headless (scripts/setup.sh does) or fix JAVA_HOME")
        return hits[0]
    try:
        import jpype
        import jpype.imports
    except ImportError:
        raise BioFormatsUnavailable(
            "Java runtime not found: JPype is not installed (pip extra 'bioformats')") from None
    try:
        return str(jpype.getDefaultJVMPath())
    except Exception as exc:  # noqa: BLE001  (JPype raises its own JVMNotFoundException)
        raise BioFormatsUnavailable(
            f"Java runtime not found ({exc}); install default-jre-headless "
            "(scripts/setup.sh does) or set JAVA_HOME") from None


def ensure_jvm(jar: str | os.PathLike[str], java_home: str | None) -> None:
    """Start the JVM with *jar* on the class path, once per process."""
    global _started_with
    if _forbidden_pid == os.getpid():
        raise RuntimeError("refusing to start a JVM in the worker's prefork parent process")
    jar = str(jar)
    with _lock:
        if _started_with is not None:
            if _started_with != jar:
                logger.warning("JVM already runs with %s; ignoring %s", _started_with, jar)
            return
        if not Path(jar).is_file():
            raise BioFormatsUnavailable(
                f"Bio-Formats jar not found at {jar}: run scripts/fetch-bioformats-jar.sh "
                "or set BIOFORMATS_JAR")
        jvm = find_jvm(java_home)
        import jpype
        import jpype.imports

        if not jpype.isJVMStarted():
            # -Xrs: the JVM installs no SIGTERM/SIGINT handlers, so Celery's pool keeps its
            # own signal handling (a recycled child exits as usual, not with Java's 143).
            jpype.startJVM(jvm, "-Djava.awt.headless=true", "-Xss4m", "-Xrs",
                           classpath=[jar], convertStrings=False, interrupt=False)
            from loci.common import DebugTools

            DebugTools.setRootLevel("ERROR")
            logger.info("started JVM %s with %s in pid %d", jvm, jar, os.getpid())
        _started_with = jar
