"""API docs: the /api-docs explorer, the "Definition" tab of API entities and raw downloads."""
