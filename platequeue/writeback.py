"""After a run: hand its results to OMERO, or record why not."""

from __future__ import annotations

import logging

from platequeue.db import session_scope
from platequeue.platform import Platform
from platequeue.runs import audit

log = logging.getLogger(__name__)


def write_back(platform: Platform, run_id: int) -> str:
    """Record the write-back outcome in the audit log.

    Without ``OMERO_HOST`` there is no server to write to: results stay in the audit store
    (CSV/JSON through the API and CLI) and the skip is audited.
    """
    if platform.settings.omero_host is None:
        with session_scope(platform.audit) as s:
            audit(s, "platequeue", "writeback-skipped", run_id,
                  reason="no OMERO server configured (OMERO_HOST unset)")
        return "skipped"
    with session_scope(platform.audit) as s:
        audit(s, "platequeue", "writeback-pending", run_id,
              reason="write-back through omero-py needs the user's OMERO session")
    return "pending"
