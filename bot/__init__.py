"""The Slack side of reewatch: the Bolt app, its listeners, its HTTP server, and the CLI."""
