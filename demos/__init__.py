"""The UI: one module per tab. Each has TITLE and build(), and only calls core."""
