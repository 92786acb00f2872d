"""Newsdesk's Discord front end. It only talks to Discord; every answer comes from ``index``."""
