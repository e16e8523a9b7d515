"""Data and training machinery (Qt-free): library indexing and captions, the open corpus recipe,
feature caches, rendered audio-visual training pairs, training loops and the evaluation suite."""
