"""Audio: loudness measurement and curves, audio file reading and writing. Never imports Qt."""
