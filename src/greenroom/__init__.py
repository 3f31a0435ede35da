"""Greenroom: an internal developer portal that speaks Backstage's formats and APIs."""

__version__ = "0.1.0"
