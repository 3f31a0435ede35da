"""Catalog read side: the search index, filter parsing and the SQL query engine behind the API."""
