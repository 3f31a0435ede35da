"""Org: profile, hierarchy, members and ownership cards on Group and User entity pages."""
