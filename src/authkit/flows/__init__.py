"""The rules of each flow: sign-up, sign-in, sign-out, profile. No HTTP, no Jinja."""
