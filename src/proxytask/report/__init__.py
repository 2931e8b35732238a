"""The study report: headline numbers, figures, and the same document as Markdown and HTML."""
