"""The project document: Project, Layer, Take; JSON with schema migrations. Never imports Qt."""
