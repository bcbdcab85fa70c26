"""The database under the store: URLs, the engine, Alembic migrations, and one transaction at a time.

SQLite (WAL, a file under the data directory) is the default; PostgreSQL is used by URL. The schema is created
and upgraded by Alembic when the store is opened.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from fallwatch.core.errors import FallWatchError

MIGRATIONS = Path(__file__).parent.parent / "migrations"
VERSION_TABLE = "fallwatch_schema_version"
_MIGRATION_LOCK = 0x46574C31  # any constant: serialises schema upgrades of workers sharing one PostgreSQL
_URL_HINT = "expected sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"


class StoreUnavailable(FallWatchError):
    """The database cannot be reached right now (down, restarting, locked); trying again later may work."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'fallwatch.db').resolve()}"


def resolve_url(*candidates: str | None, data_dir: Path) -> str:
    """The first URL given (a --db flag, then store.url), else SQLite in the data directory (created)."""
    for url in candidates:
        if url:
            return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return default_url(data_dir)


def parse_url(raw: str) -> URL:
    """A checked SQLAlchemy URL, or FallWatchError naming what is wrong with it."""
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise FallWatchError(f"database URL {raw!r} is not a URL ({_URL_HINT})") from None
    backend = url.get_backend_name()
    shown = url.render_as_string(hide_password=True)
    if backend == "sqlite":
        if url.get_driver_name() != "pysqlite":
            raise FallWatchError(f"database URL {shown}: unsupported SQLite driver ({_URL_HINT})")
        if not url.database or url.database == ":memory:":
            raise FallWatchError(f"database URL {shown}: SQLite needs a file path ({_URL_HINT})")
        parent = Path(url.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise FallWatchError(f"database URL {shown}: directory {parent} does not exist")
        return url
    if backend == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver FallWatch ships with
        if url.get_driver_name() != "psycopg":
            raise FallWatchError(f"database URL {shown}: use the psycopg driver ({_URL_HINT})")
        if url.password:
            raise FallWatchError(
                f"database URL {shown}: a password in the URL is refused; put it in PGPASSWORD or ~/.pgpass"
            )
        if not url.database:
            raise FallWatchError(f"database URL {shown}: no database name ({_URL_HINT})")
        return url
    raise FallWatchError(f"database URL {shown}: unsupported database {backend!r} ({_URL_HINT})")


def _first_line(exc: BaseException) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(origin).__name__


def _make_engine(url: URL, connect_timeout_s: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30.0})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the dashboard) never block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # pre_ping: a server restarted under us leaves dead pooled connections; find them before using them.
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(connect_timeout_s))}
    )


# Alembic keeps its running context in module globals, so two threads of one process (the pipeline's writer and
# the notifier, say) must not migrate at once; processes are kept apart by the database itself.
_MIGRATING = threading.Lock()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic, script location inside this package)."""
    with _MIGRATING:
        _migrate(engine)


def _migrate(engine: Engine) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        config.attributes["version_table"] = VERSION_TABLE
        command.upgrade(config, "head")


def connect(url: str, connect_timeout_s: float = 5.0, *, upgrade: bool = True) -> Database:
    """Open (and by default create or upgrade) the database at `url`; FallWatchError if it cannot be used."""
    parsed = parse_url(url)
    engine = _make_engine(parsed, connect_timeout_s)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        raise StoreUnavailable(f"database {shown}: cannot connect ({_first_line(exc)})") from None
    except DBAPIError as exc:
        engine.dispose()
        raise FallWatchError(f"database {shown}: {_first_line(exc)}") from None
    return Database(engine, shown)


class Database:
    """An engine and its sessions; every repository of the store runs its work through `transaction`."""

    def __init__(self, engine: Engine, shown_url: str):
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.url = shown_url

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction; a lost or refused connection becomes StoreUnavailable (callers may retry)."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(f"database {self.url}: unavailable ({_first_line(exc)})") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(f"database {self.url}: connection lost ({_first_line(exc)})") from exc
            raise
