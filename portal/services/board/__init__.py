"""The public board: asking, tracking, routing, replying, publishing, imports, reports."""
