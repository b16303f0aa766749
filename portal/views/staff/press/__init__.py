"""The press room in the console: releases and attachments, conferences, the directory."""
