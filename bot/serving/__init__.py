"""Running the bot: start-up checks, `check`, and serving Slack in HTTP or Socket Mode (above the composition
root, bot.app)."""
