"""The Telegram channel: commands, plain-language questions, approvals with buttons and incident
notifications, run by python-telegram-bot inside the agent's own event loop (bot.py)."""
