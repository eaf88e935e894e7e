"""The composition root: the `guildhall` command (guildhall.cli), the start-up checks, the demo data
and the embedded-server supervisor. It imports `shared` and `services`; neither imports it."""
