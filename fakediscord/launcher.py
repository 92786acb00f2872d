"""Run the unmodified bot (``python -m bot``) against a fake Discord.

    python -m fakediscord.launcher API_URL GATEWAY_URL

Points discord.py's REST base (also used for webhooks and interaction responses) and its
gateway URL at the fake, then runs the ``bot`` package exactly as ``python -m bot`` does.
"""

import runpy
import sys

import discord.gateway
import discord.http
import yarl

api_url, gateway_url = sys.argv[1], sys.argv[2]
discord.http.Route.BASE = api_url
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
sys.argv = ["bot"]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
