"""Exit 0 when a PostgreSQL server answers at the given DATABASE_URL's host, 1 (with the reason) otherwise.

    .venv/bin/python scripts/postgres_ready.py postgres://postgres@127.0.0.1:5432/isc

Connects to the server's `postgres` maintenance database, as Django does to create a test database,
so the URL's own database need not exist yet.
"""

from __future__ import annotations

import sys

import dj_database_url
import psycopg


def main() -> int:
    config = dj_database_url.parse(sys.argv[1])
    try:
        psycopg.connect(
            dbname="postgres",
            user=config.get("USER") or None,
            password=config.get("PASSWORD") or None,
            host=config.get("HOST") or "127.0.0.1",
            port=config.get("PORT") or 5432,
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        print(f"PostgreSQL does not answer at {config.get('HOST')}:{config.get('PORT')}: {error}".strip())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
