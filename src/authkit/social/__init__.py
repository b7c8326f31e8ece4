"""
Social login: sign in (and sign up) through another site's account, by OpenID Connect
with Authlib as the client. providers.py holds what a provider is and how it is
configured; client.py the round trip to it; flows/social.py the account rules.
"""
