"""Captions: word timings to an animated ASS file (looks, animations, layout, fonts)."""
