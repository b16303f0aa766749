"""TOTP: last accepted time step per user; secrets re-encrypted with Fernet

Revision ID: 4389189d07a8
Revises: 9398a61393fb
Create Date: 2026-11-30 21:50:00

Stored secrets move from the earlier home-made HMAC stream ("v1:") to Fernet tokens ("v2:") under the app's
TOTP keyring (PORTAL_TOTP_KEYS, else the key derived from PORTAL_SECRET_KEY), read from the Flask app that runs
the migration. A v1 secret that the app's secret key does not open (it was already unusable) is left as it is:
the admin resets that user's authenticator. Downgrade converts back.
"""
import base64
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = '4389189d07a8'
down_revision = '9398a61393fb'
branch_labels = None
depends_on = None

_staff = sa.table('staff_user', sa.column('id', sa.Integer), sa.column('totp_secret', sa.Text))


# The v1 format, frozen here (the application no longer reads it).
def _v1_keys(app_key: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(("portal-totp-secret:" + app_key).encode()).digest()
    return hmac.new(root, b"enc", hashlib.sha256).digest(), hmac.new(root, b"mac", hashlib.sha256).digest()


def _v1_stream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _v1_decrypt(app_key: str, stored: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(stored[len("v1:"):].encode())
    except ValueError:
        return None
    enc, mac = _v1_keys(app_key)
    body, tag = raw[:-32], raw[-32:]
    if len(body) < 17 or not hmac.compare_digest(tag, hmac.new(mac, body, hashlib.sha256).digest()):
        return None
    nonce, data = body[:16], body[16:]
    return bytes(a ^ b for a, b in zip(data, _v1_stream(enc, nonce, len(data)), strict=True)).decode()


def _v1_encrypt(app_key: str, secret: str) -> str:
    enc, mac = _v1_keys(app_key)
    nonce = secrets.token_bytes(16)
    data = secret.encode()
    body = nonce + bytes(a ^ b for a, b in zip(data, _v1_stream(enc, nonce, len(data)), strict=True))
    return "v1:" + base64.urlsafe_b64encode(body + hmac.new(mac, body, hashlib.sha256).digest()).decode()


def _rows(conn, prefix: str):
    return conn.execute(sa.select(_staff.c.id, _staff.c.totp_secret).where(_staff.c.totp_secret.like(prefix + "%")))


def upgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    from portal.services.accounts import totp

    conn = op.get_bind()
    ring = totp.config_keyring(current_app.config)
    app_key = str(current_app.config["SECRET_KEY"])
    for row_id, stored in list(_rows(conn, "v1:")):
        secret = _v1_decrypt(app_key, stored)
        if secret is not None:
            conn.execute(_staff.update().where(_staff.c.id == row_id).values(
                totp_secret=totp.encrypt_secret(ring, secret)))


def downgrade():
    from portal.services.accounts import totp

    conn = op.get_bind()
    ring = totp.config_keyring(current_app.config)
    app_key = str(current_app.config["SECRET_KEY"])
    for row_id, stored in list(_rows(conn, "v2:")):
        secret = totp.decrypt_secret(ring, stored)
        if secret is not None:
            conn.execute(_staff.update().where(_staff.c.id == row_id).values(totp_secret=_v1_encrypt(app_key, secret)))

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
