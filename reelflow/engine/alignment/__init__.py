"""Forced alignment of a transcript to a voice.

Decoder, windows, refinement, fallbacks, text normalisation and corrections.
"""
