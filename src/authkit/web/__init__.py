"""The sub-app's HTTP layer: routes that parse a request, call a flow, render a page."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .account import user_endpoint
from .admin import (
    admin_approve_endpoint,
    admin_invitations_endpoint,
    admin_new_user_endpoint,
    admin_user_action_endpoint,
    admin_user_endpoint,
    admin_users_endpoint,
    admin_webhook_replay_endpoint,
    admin_webhooks_endpoint,
)
from .avatars import avatar_endpoint, avatar_image_endpoint, avatar_remove_endpoint
from .bot_check import challenge_endpoint
from .connected_accounts import connect_endpoint, disconnect_endpoint
from .devices import activity_endpoint, revoke_device_endpoint, revoke_others_endpoint
from .emails import (
    add_email_endpoint,
    email_primary_endpoint,
    email_remove_endpoint,
    email_resend_endpoint,
    email_verify_endpoint,
)
from .errors import exception_handlers
from .guidance import password_guidance_endpoint
from .impersonation import stop_endpoint as stop_impersonation_endpoint
from .metadata import metadata_endpoint
from .organizations import (
    invitation_accept_endpoint,
    invitation_endpoint,
    logo_image_endpoint,
    new_organization_endpoint,
    organization_action_endpoint,
    organization_endpoint,
    organization_logo_endpoint,
    organizations_endpoint,
)
from .passkeys import (
    passkey_add_endpoint,
    passkey_remove_endpoint,
    passkey_rename_endpoint,
    register_options_endpoint,
    register_verify_endpoint,
    sign_in_options_endpoint,
    sign_in_verify_endpoint,
)
from .reset import forgot_password_endpoint, reset_password_endpoint
from .reverify import REVERIFY, reverify_endpoint
from .security import (
    delete_account_endpoint,
    password_endpoint,
    recovery_codes_endpoint,
    security_endpoint,
    totp_disable_endpoint,
    totp_setup_endpoint,
)
from .sign_in import (
    SIGN_IN,
    email_link_endpoint,
    link_status_endpoint,
    methods_endpoint,
    mfa_setup_endpoint,
    sign_in_endpoint,
    sign_out_endpoint,
)
from .sign_up import resend_endpoint, sign_up_endpoint, verify_endpoint
from .social import oauth_callback_endpoint, oauth_start_endpoint
from .tokens import token_endpoint
from .waitlist import waitlist_endpoint
from .well_known import jwks_endpoint, openid_configuration_endpoint, theme_css_endpoint

__all__ = ["build_routes", "exception_handlers"]

ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def build_routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in_endpoint, methods=["GET", "POST"], name="sign_in"),
        Route("/sign-in/methods", methods_endpoint, name="sign_in_methods"),
        Route(
            "/sign-in/factor/{name}",
            SIGN_IN.factor_endpoint,
            methods=["GET", "POST"],
            name="sign_in_factor",
        ),
        Route(
            "/sign-in/factor/{name}/resend",
            SIGN_IN.resend_endpoint,
            methods=["POST"],
            name="sign_in_factor_resend",
        ),
        Route("/sign-in/link", email_link_endpoint, methods=["GET", "POST"], name="sign_in_link"),
        Route("/sign-in/link/status", link_status_endpoint, name="sign_in_link_status"),
        Route(
            "/sign-in/mfa-setup",
            mfa_setup_endpoint,
            methods=["GET", "POST"],
            name="sign_in_mfa_setup",
        ),
        Route("/reverify", reverify_endpoint, methods=["GET", "POST"], name="reverify"),
        Route(
            "/reverify/factor/{name}",
            REVERIFY.factor_endpoint,
            methods=["GET", "POST"],
            name="reverify_factor",
        ),
        Route(
            "/reverify/factor/{name}/resend",
            REVERIFY.resend_endpoint,
            methods=["POST"],
            name="reverify_factor_resend",
        ),
        Route("/sign-up", sign_up_endpoint, methods=["GET", "POST"], name="sign_up"),
        Route("/waitlist", waitlist_endpoint, methods=["GET", "POST"], name="waitlist"),
        Route("/bot-check/challenge", challenge_endpoint, name="bot_check_challenge"),
        Route("/sign-up/verify", verify_endpoint, methods=["GET", "POST"], name="sign_up_verify"),
        Route("/sign-up/resend", resend_endpoint, methods=["POST"], name="sign_up_resend"),
        Route("/sign-out", sign_out_endpoint, methods=["POST"], name="sign_out"),
        Route("/oauth/{name}/start", oauth_start_endpoint, methods=["POST"], name="oauth_start"),
        Route(
            "/oauth/{name}/callback",
            oauth_callback_endpoint,
            methods=["GET", "POST"],
            name="oauth_callback",
        ),
        Route(
            "/organizations", organizations_endpoint, methods=["GET", "POST"], name="organizations"
        ),
        Route(
            "/organizations/new",
            new_organization_endpoint,
            methods=["GET", "POST"],
            name="organization_new",
        ),
        Route(
            "/organizations/invitations/{invitation_id}/accept",
            invitation_accept_endpoint,
            methods=["POST"],
            name="organization_invitation_accept",
        ),
        Route(
            "/organizations/invitations/{token}",
            invitation_endpoint,
            methods=["GET", "POST"],
            name="organization_invitation",
        ),
        Route(
            "/organizations/logos/{organization_id}/{content_hash}.webp",
            logo_image_endpoint,
            name="organization_logo_image",
        ),
        Route("/organizations/{slug}", organization_endpoint, name="organization"),
        Route(
            "/organizations/{slug}/logo",
            organization_logo_endpoint,
            methods=["POST"],
            name="organization_logo",
        ),
        Route(
            "/organizations/{slug}/{action}",
            organization_action_endpoint,
            methods=["POST"],
            name="organization_action",
        ),
        Route("/user", user_endpoint, methods=["GET", "POST"], name="user"),
        Route("/user/avatar", avatar_endpoint, methods=["POST"], name="user_avatar"),
        Route("/user/metadata", metadata_endpoint, methods=["POST"], name="user_metadata"),
        Route(
            "/user/avatar/remove",
            avatar_remove_endpoint,
            methods=["POST"],
            name="user_avatar_remove",
        ),
        Route(
            "/avatars/{user_id}/{content_hash}.webp",
            avatar_image_endpoint,
            name="avatar_image",
        ),
        Route(
            "/user/emails/add", add_email_endpoint, methods=["GET", "POST"], name="user_email_add"
        ),
        Route(
            "/user/emails/{address_id}/verify",
            email_verify_endpoint,
            methods=["GET", "POST"],
            name="user_email_verify",
        ),
        Route(
            "/user/emails/{address_id}/resend",
            email_resend_endpoint,
            methods=["POST"],
            name="user_email_resend",
        ),
        Route(
            "/user/emails/{address_id}/primary",
            email_primary_endpoint,
            methods=["GET", "POST"],
            name="user_email_primary",
        ),
        Route(
            "/user/emails/{address_id}/remove",
            email_remove_endpoint,
            methods=["GET", "POST"],
            name="user_email_remove",
        ),
        Route(
            "/user/connected-accounts/connect/{name}",
            connect_endpoint,
            methods=["GET", "POST"],
            name="user_connect_account",
        ),
        Route(
            "/user/connected-accounts/{account_id}/remove",
            disconnect_endpoint,
            methods=["GET", "POST"],
            name="user_disconnect_account",
        ),
        Route("/user/security", security_endpoint, name="user_security"),
        Route(
            "/user/security/password",
            password_endpoint,
            methods=["GET", "POST"],
            name="user_security_password",
        ),
        Route(
            "/user/security/totp",
            totp_setup_endpoint,
            methods=["GET", "POST"],
            name="user_security_totp",
        ),
        Route(
            "/user/security/totp/disable",
            totp_disable_endpoint,
            methods=["GET", "POST"],
            name="user_security_totp_disable",
        ),
        Route(
            "/user/security/recovery-codes",
            recovery_codes_endpoint,
            methods=["GET", "POST"],
            name="user_security_recovery_codes",
        ),
        Route(
            "/user/security/sessions/revoke-others",
            revoke_others_endpoint,
            methods=["GET", "POST"],
            name="user_security_revoke_others",
        ),
        Route(
            "/user/security/sessions/{session_id}/revoke",
            revoke_device_endpoint,
            methods=["POST"],
            name="user_security_revoke_session",
        ),
        Route(
            "/user/security/passkeys/add",
            passkey_add_endpoint,
            name="user_security_passkey_add",
        ),
        Route(
            "/user/security/passkeys/{passkey_id}/rename",
            passkey_rename_endpoint,
            methods=["GET", "POST"],
            name="user_security_passkey_rename",
        ),
        Route(
            "/user/security/passkeys/{passkey_id}/remove",
            passkey_remove_endpoint,
            methods=["GET", "POST"],
            name="user_security_passkey_remove",
        ),
        Route(
            "/passkeys/sign-in/options",
            sign_in_options_endpoint,
            methods=["POST"],
            name="passkey_sign_in_options",
        ),
        Route(
            "/passkeys/sign-in/verify",
            sign_in_verify_endpoint,
            methods=["POST"],
            name="passkey_sign_in_verify",
        ),
        Route(
            "/passkeys/register/options",
            register_options_endpoint,
            methods=["POST"],
            name="passkey_register_options",
        ),
        Route(
            "/passkeys/register/verify",
            register_verify_endpoint,
            methods=["POST"],
            name="passkey_register_verify",
        ),
        Route("/user/security/activity", activity_endpoint, name="user_security_activity"),
        Route(
            "/user/security/delete",
            delete_account_endpoint,
            methods=["GET", "POST"],
            name="user_security_delete",
        ),
        Route(
            "/forgot-password",
            forgot_password_endpoint,
            methods=["GET", "POST"],
            name="forgot_password",
        ),
        Route(
            "/reset-password",
            reset_password_endpoint,
            methods=["GET", "POST"],
            name="reset_password",
        ),
        Route("/.well-known/jwks.json", jwks_endpoint, name="jwks"),
        Route("/tokens/{name}", token_endpoint, name="token"),
        # The admin console: every method answers (404 for non-admins before anything
        # else), so a 405 never tells anyone that a console route exists.
        Route("/admin", admin_users_endpoint, methods=ANY, name="admin"),
        Route("/admin/users/new", admin_new_user_endpoint, methods=ANY),
        Route("/admin/users/{user_id}", admin_user_endpoint, methods=ANY),
        Route("/admin/users/{user_id}/{action}", admin_user_action_endpoint, methods=ANY),
        Route("/admin/webhooks", admin_webhooks_endpoint, methods=ANY),
        Route("/admin/webhooks/{seq:int}/replay", admin_webhook_replay_endpoint, methods=ANY),
        Route("/admin/invitations", admin_invitations_endpoint, methods=ANY),
        Route("/admin/waitlist/{entry_id}/approve", admin_approve_endpoint, methods=ANY),
        Route("/impersonation/stop", stop_impersonation_endpoint, methods=["POST"]),
        Route(
            "/.well-known/openid-configuration",
            openid_configuration_endpoint,
            name="openid_configuration",
        ),
        Route(
            "/password-guidance",
            password_guidance_endpoint,
            methods=["POST"],
            name="password_guidance",
        ),
        Route("/theme.css", theme_css_endpoint, name="theme_css"),
        Mount("/static", StaticFiles(packages=[("authkit", "static")]), name="static"),
    ]
