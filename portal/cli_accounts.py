"""Flask commands for the TOTP keyring: make a new key, re-encrypt the stored secrets under the first key."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.extensions import db
from portal.services.accounts import totp


@click.group("totp-keys")
def totp_keys() -> None:
    """Keys that encrypt the stored TOTP secrets (PORTAL_TOTP_KEYS, newest first)."""


@totp_keys.command("new")
def new_key() -> None:
    """Print a fresh Fernet key to put first in PORTAL_TOTP_KEYS."""
    click.echo(totp.new_key())


@totp_keys.command("rotate")
@with_appcontext
def rotate() -> None:
    """Re-encrypt every stored TOTP secret under the first key of PORTAL_TOTP_KEYS (audited)."""
    done, unreadable = totp.rotate_secrets(db.session, totp.config_keyring(current_app.config))
    click.echo(f"re-encrypted {done} TOTP secrets under the first key; {unreadable} unreadable with these keys")
    if unreadable:
        click.echo("unreadable secrets: keep their old key in PORTAL_TOTP_KEYS, or reset those users' 2FA", err=True)
