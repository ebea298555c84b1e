"""Notifications: each user's channels (email, Slack, Discord, a JSON webhook, Telegram), the events
each channel is sent, and a delivery log. `services.notify` is what the rest of the code calls."""
