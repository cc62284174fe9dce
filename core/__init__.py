"""reewatch's domain: settings, feeds, items, elements, severity, rendering and Redis stores.

Nothing here imports slack_bolt or rq; both the bot and the workers build on it.
"""
