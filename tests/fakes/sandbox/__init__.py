"""The Slack sandbox page of `reewatch demo`: a browser view of the Slack stand-in.

`Sandbox(standin, bot_url=..., signing_secret=...).attach()` adds to the stand-in's own HTTP server:

    GET  /                   the page (channels, threads, App Home; Block Kit rendered in the browser)
    GET  /sandbox/app.js, /sandbox/style.css
    GET  /sandbox/state      everything to draw, as JSON; `?since=N` answers {"version": N} when unchanged
    POST /sandbox/command    {"user", "channel", "text"}: a signed slash command to the bot
    POST /sandbox/action     {"user", "channel", "ts", "action_id", "block_id", "value", "view"}: a click
    POST /sandbox/home       {"user"}: a signed app_home_opened event

Commands and clicks are real signed requests to the bot's /slack/events (bot/signed.py signs them);
their response_url points back at the stand-in, whose replies the page shows.
"""

from tests.fakes.sandbox.server import DemoUser, Sandbox

__all__ = ["DemoUser", "Sandbox"]
