"""Catalog graph: entity relation graphs laid out by igraph and drawn as server-rendered SVG."""
