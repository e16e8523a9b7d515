"""Video: probing, frame decoding, thumbnails, timecode and muxing with PyAV. Never imports Qt."""
