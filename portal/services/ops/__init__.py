"""Operations every area leans on: outgoing mail, backups, retention, the site version and crisis switches."""
