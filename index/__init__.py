"""Newsdesk's retrieval core: articles -> passages -> vectors -> index -> answers.

Nothing in this package knows the chat it answers in; ``bot`` builds on it, never the
reverse.
"""
