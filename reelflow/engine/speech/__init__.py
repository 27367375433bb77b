"""Speech synthesis with espeak-ng (one ctypes binding) and analysis of a voice."""
