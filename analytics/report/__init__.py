"""The weekly quality report: the same numbers as the API, rendered as self-contained HTML and Markdown."""
