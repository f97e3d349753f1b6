"""Developer tool: autogenerate the next migration of a capability's branch.

    python -m vigil.store.newrev faces "face tables"

Builds a scratch SQLite database at ``heads``, diffs it against the models and writes
``versions/<capability>_<NNNN>.py``. Read the result and keep only your own tables.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from vigil.store.db import MIGRATIONS_DIR, alembic_config, make_engine, migrate


def new_revision(branch: str, message: str) -> Path:
    """Write the next revision for ``branch`` and return its path."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        migrate(engine)
        cfg = alembic_config(engine)
        script = ScriptDirectory.from_config(cfg)
        existing = [r for r in script.walk_revisions() if r.revision.startswith(f"{branch}_")]
        number = len(existing) + 1
        rev_id = f"{branch}_{number:04d}"
        if existing:
            command.revision(cfg, message, autogenerate=True, head=f"{branch}@head", rev_id=rev_id)
        else:
            command.revision(
                cfg,
                message,
                autogenerate=True,
                head="0001_foundation",
                splice=True,
                branch_label=branch,
                rev_id=rev_id,
            )
        engine.dispose()
    written = next(MIGRATIONS_DIR.joinpath("versions").glob(f"{rev_id}_*.py"))
    target = written.with_name(f"{rev_id}.py")
    text = written.read_text(encoding="utf-8")
    text = text.replace("vigil.store.base.UTCDateTime()", "sa.DateTime()")
    text = re.sub(r"\n\s*# ### (commands auto generated|end Alembic commands).*", "", text)
    target.write_text(text, encoding="utf-8")
    written.unlink()
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__ or "")
        raise SystemExit(2)
    sys.stdout.write(f"{new_revision(sys.argv[1], sys.argv[2])}\n")
