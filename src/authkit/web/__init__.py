"""The sub-app's HTTP layer: routes that parse a request, call a flow, render a page."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .account import user_endpoint
from .errors import exception_handlers
from .guidance import password_guidance_endpoint
from .reset import forgot_password_endpoint, reset_password_endpoint
from .sign_in import sign_in_endpoint, sign_out_endpoint
from .sign_up import resend_endpoint, sign_up_endpoint, verify_endpoint
from .well_known import jwks_endpoint, openid_configuration_endpoint, theme_css_endpoint

__all__ = ["build_routes", "exception_handlers"]


def build_routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in_endpoint, methods=["GET", "POST"], name="sign_in"),
        Route("/sign-up", sign_up_endpoint, methods=["GET", "POST"], name="sign_up"),
        Route("/sign-up/verify", verify_endpoint, methods=["GET", "POST"], name="sign_up_verify"),
        Route("/sign-up/resend", resend_endpoint, methods=["POST"], name="sign_up_resend"),
        Route("/sign-out", sign_out_endpoint, methods=["POST"], name="sign_out"),
        Route("/user", user_endpoint, methods=["GET", "POST"], name="user"),
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
