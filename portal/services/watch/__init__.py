"""Watching other platforms (舆情监测): sources, fetching, watched items, plans, alerts and digests."""
