"""The audit trail: who created, changed, started, paused or stopped a bot, closed a position, added or
removed a broker account or an API token, and from where. Append-only."""
