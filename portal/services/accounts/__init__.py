"""Staff accounts: sign-in and sessions, the admin's account work, TOTP."""
