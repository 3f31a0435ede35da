"""The `script.py.mako` template plugins copy into their `migrations/` folder for `alembic revision`."""
