"""Blog domain: posts, their visibility and listing, comments and their moderation."""
