"""The watch desk (/staff/watch): watched items, sources with their health, plans."""
