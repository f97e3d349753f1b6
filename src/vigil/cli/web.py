"""``vigil serve`` (the review web app) and ``vigil users`` (web accounts and case membership)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.errors import InvalidInput, NotReady
from vigil.store.roles import ROLES

app = typer.Typer(
    help=(
        "Web accounts: add users with a role, list them, change passwords, grant case access.\n\n"
        "Example: VIGIL_ADMIN_PASSWORD=... vigil users add admin --role administrator"
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ROLE_HELP = "One of: " + ", ".join(ROLES) + "."


def _read_password(env: str, prompt: str) -> str:
    """A new password from ``env`` or an interactive prompt (asked twice)."""
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput(f"no password: set {env} or run the command in a terminal")
    first = getpass.getpass(f"{prompt}: ")
    second = getpass.getpass("again: ")
    if first != second:
        raise InvalidInput("the two passwords differ")
    return first


def _add_user(username: str, role: str, password: str, agency: str | None) -> None:
    from vigil.store import audit
    from vigil.store import web as store
    from vigil.web.passwords import hash_password

    store.check_role(role)
    digest = hash_password(password)
    rt = runtime()
    with rt.db.write() as s:
        user = store.create_user(s, username, role, digest, agency=agency)
        audit.append(s, rt.actor, "user.add", details={"username": user.username, "role": role})


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "investigator",
    agency: Annotated[str | None, typer.Option(help="Agency the user works for.")] = None,
) -> None:
    """Add a web account. The password comes from $VIGIL_ADMIN_PASSWORD or a prompt (12+ chars).

    Example: vigil users add admin --role administrator
    """
    password = _read_password("VIGIL_ADMIN_PASSWORD", f"password for {username}")
    _add_user(username, role, password, agency)
    typer.echo(f"added {username} ({role})")


@app.command("list")
def list_users(as_json: JsonOpt = False) -> None:
    """List web accounts with their role and cases.

    Example: vigil users list --json
    """
    from vigil.store import web as store

    rt = runtime()
    with rt.db.read() as s:
        rows: list[dict[str, Any]] = [
            {
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "can_log_in": bool(u.password_hash),
                "cases": [c.name for c in store.member_cases(s, u.id)],
            }
            for u in store.list_users(s)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [
                f"{r['username']}  {r['role']}  "
                f"{'active' if r['active'] else 'disabled'}  cases: {', '.join(r['cases']) or '-'}"
                for r in rows
            ]
            or ["no users yet: vigil users add admin --role administrator"]
        )


@app.command("passwd")
def passwd(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Set a new password (from $VIGIL_NEW_PASSWORD or a prompt) and end the user's sessions.

    Example: vigil users passwd alice
    """
    from vigil.store import audit
    from vigil.store import web as store
    from vigil.web.passwords import hash_password

    password = _read_password("VIGIL_NEW_PASSWORD", f"new password for {username}")
    digest = hash_password(password)
    rt = runtime()
    with rt.db.write() as s:
        user = store.get_user(s, username)
        user.password_hash = digest
        ended = store.revoke_user_sessions(s, user.id)
        audit.append(
            s, rt.actor, "user.password", details={"username": username, "sessions_ended": ended}
        )
    typer.echo(f"password of {username} changed ({ended} sessions ended)")


@app.command("unlock")
def unlock(
    username: Annotated[
        str | None, typer.Argument(help="Login name whose lock-out to lift.")
    ] = None,
    client: Annotated[
        str | None,
        typer.Option("--client", help="Also (or only) lift the lock-out of this client address."),
    ] = None,
) -> None:
    """Lift a log-in lock-out now (the failures are kept, marked cleared, and the unlock is
    audited). Lock-outs also end by themselves after the window (docs/web.md).

    Example: vigil users unlock alice

    Example: vigil users unlock --client 10.0.0.7
    """
    from vigil.store import audit
    from vigil.store import web as store

    if username is None and client is None:
        raise InvalidInput("name a user, or give --client ADDRESS")
    rt = runtime()
    with rt.db.write() as s:
        name = store.get_user(s, username).username if username is not None else None
        cleared = store.clear_failures(s, username=name, client=client)
        audit.append(
            s,
            rt.actor,
            "user.unlock",
            details={"username": name, "client": client, "failures_cleared": cleared},
        )
    who = " and ".join(x for x in (name, client and f"client {client}") if x)
    typer.echo(f"unlocked {who} ({cleared} failed log-ins cleared)")


@app.command("grant")
def grant(
    username: Annotated[str, typer.Argument(help="Login name.")],
    case: Annotated[str, typer.Argument(help="Case name.")],
) -> None:
    """Make a user a member of a case (only members see a case, whatever their role).

    Example: vigil users grant alice op-birch
    """
    from vigil.store import audit, repo
    from vigil.store import web as store

    rt = runtime()
    with rt.db.write() as s:
        user = store.get_user(s, username)
        case_row = repo.get_case(s, case)
        changed = store.add_member(s, case_row.id, user.id)
        audit.append(
            s,
            rt.actor,
            "case.member_add",
            case_id=case_row.id,
            details={"username": username, "changed": changed},
        )
    typer.echo(f"{username} is a member of {case}")


@app.command("revoke")
def revoke(
    username: Annotated[str, typer.Argument(help="Login name.")],
    case: Annotated[str, typer.Argument(help="Case name.")],
) -> None:
    """Remove a user from a case.

    Example: vigil users revoke alice op-birch
    """
    from vigil.store import audit, repo
    from vigil.store import web as store

    rt = runtime()
    with rt.db.write() as s:
        user = store.get_user(s, username)
        case_row = repo.get_case(s, case)
        changed = store.remove_member(s, case_row.id, user.id)
        audit.append(
            s,
            rt.actor,
            "case.member_remove",
            case_id=case_row.id,
            details={"username": username, "changed": changed},
        )
    typer.echo(f"{username} is no longer a member of {case}")


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default 127.0.0.1; $VIGIL_WEB_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8470; $VIGIL_WEB_PORT).")] = None,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark cookies Secure (when served over https, e.g. behind a TLS proxy).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Server processes (default 1; $VIGIL_WEB_WORKERS). More than one needs "
            "PostgreSQL ($VIGIL_DATABASE_URL)."
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse-proxy addresses whose X-Forwarded-For/-Proto headers are believed, "
            "e.g. 127.0.0.1 for an nginx on this host ($VIGIL_WEB_FORWARDED_ALLOW_IPS). "
            "Default: none, so clients cannot forge their address."
        ),
    ] = None,
) -> None:
    """Run the review web app on this installation's store.

    At first start, with no account able to log in, an administrator `admin` is created from
    $VIGIL_ADMIN_PASSWORD (or a prompt). It binds to localhost unless --host says otherwise.
    For a team server (PostgreSQL, TLS proxy, several workers) see docs/deploy.md.

    Example: VIGIL_ADMIN_PASSWORD='a long passphrase' vigil serve --port 8470

    Example: vigil serve --workers 4 --forwarded-allow-ips 127.0.0.1 --secure-cookies
    """
    from vigil.store import web as store
    from vigil.web.config import WebConfig
    from vigil.web.server import check_workers, run

    rt = runtime()
    cfg = WebConfig.from_env(
        host=host,
        port=port,
        secure_cookies=secure_cookies,
        workers=workers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    check_workers(cfg, rt.settings.database_url)
    with rt.db.read() as s:
        users = store.count_login_users(s)
    if users == 0:
        if not os.environ.get("VIGIL_ADMIN_PASSWORD") and not sys.stdin.isatty():
            raise NotReady(
                "no account can log in yet: set VIGIL_ADMIN_PASSWORD (12+ characters) to create "
                "the administrator 'admin', or run `vigil users add admin --role administrator`"
            )
        password = _read_password("VIGIL_ADMIN_PASSWORD", "password for the administrator 'admin'")
        _add_user("admin", "administrator", password, None)
        typer.echo("created the administrator account 'admin'")
    if cfg.host not in {"127.0.0.1", "localhost", "::1"} and not cfg.secure_cookies:
        typer.echo(
            f"warning: serving on {cfg.host} without --secure-cookies; put a TLS proxy in front",
            err=True,
        )
    typer.echo(
        f"Vigil review app on http://{cfg.host}:{cfg.port}/ "
        f"({cfg.workers} worker{'s' if cfg.workers > 1 else ''}; Ctrl+C to stop)"
    )
    run(rt.settings, cfg, rt.db)


def register(root: typer.Typer) -> None:
    """Attach ``vigil serve`` to the root command."""
    root.command("serve")(serve)
