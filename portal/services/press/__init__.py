"""The press room: releases and their attachments, conferences, the directory, the calendar."""
