"""The press-conference calendar as iCalendar (RFC 5545), built with the `icalendar` package.

Times are written in UTC (the `Z` form), which every calendar client reads without a VTIMEZONE block; the
client shows them in its own zone. UIDs are built from row ids so an event never duplicates in a subscribed
calendar; SEQUENCE grows with every change, and a cancelled conference stays with STATUS:CANCELLED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, timedelta

from icalendar import Calendar, Event

from portal.models import Conference
from portal.text import xml_safe


def conference_uid(conference: Conference, authority: str) -> str:
    """A stable, globally unique UID."""
    return f"press-conference-{conference.id}@{authority}"


def build_calendar(
    conferences: Iterable[Conference], name: str, authority: str, link_for: Callable[[Conference], str]
) -> bytes:
    """A VCALENDAR with one VEVENT per conference; texts lose control characters and non-characters (rows stored
    before the text door existed), which calendar clients refuse."""
    cal = Calendar()
    cal.add("prodid", f"-//{authority}//press room//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", xml_safe(name))
    cal.add("x-wr-timezone", "Asia/Shanghai")
    cal.add("x-published-ttl", "PT1H")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    for conference in conferences:
        event = Event()
        event.add("uid", conference_uid(conference, authority))
        event.add("dtstamp", conference.updated_at.astimezone(UTC))
        event.add("created", conference.created_at.astimezone(UTC))
        event.add("last-modified", conference.updated_at.astimezone(UTC))
        event.add("dtstart", conference.starts_at.astimezone(UTC))
        event.add("dtend", conference.ends_at.astimezone(UTC))
        event.add("sequence", conference.sequence)
        event.add("summary", xml_safe(conference.title))
        event.add("location", xml_safe(conference.place))
        url = link_for(conference)
        event.add("url", url)
        lines = []
        if conference.spokesperson:
            lines.append(f"发言人：{conference.spokesperson}")
        if conference.livestream_url:
            lines.append(f"直播：{conference.livestream_url}")
        if conference.description_md:
            lines.append(conference.description_md)
        lines.append(f"详情：{url}")
        event.add("description", xml_safe("\n".join(lines)))
        event.add("status", "CANCELLED" if conference.cancelled_at else "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
