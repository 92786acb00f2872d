"""Newsdesk's retrieval core: articles -> passages -> vectors -> index -> answers.

Nothing in this package imports Discord; ``bot`` builds on it, never the reverse.
"""
