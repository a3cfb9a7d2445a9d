"""The tile-level pipeline simulator and its timelines."""
