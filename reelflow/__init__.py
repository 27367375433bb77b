"""reelflow: a voiceover or script in, a finished vertical reel out."""

__version__ = "0.1.0"
