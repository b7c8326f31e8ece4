"""
The Jinja globals a host's templates use to embed authkit's components in their own
pages: the same templates the sub-app's pages render, given the same context. With htmx
an embedded form swaps its next step in place; without JavaScript it posts to the
sub-app's page and comes back to `redirect_url`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request

from .access import auth
from .context import KitContext
from .forms import OrganizationForm, ProfileForm, SignInForm, SignUpForm, WaitlistForm
from .organization_view import ORGANIZATIONS_KEY, OrganizationList
from .profile_view import PROFILE_KEY, Profile
from .request_auth import USER_KEY
from .users import User
from .web.helpers import base_context, component_ids, cookies_of, redirect_target
from .web.sign_in import sign_in_context

__all__ = ["Components"]


class Components:
    """`{{ authkit.sign_in() }}` and friends; registered by `AuthKit.jinja(env)`."""

    def __init__(self, context: KitContext) -> None:
        self._context = context

    def _render(self, request: Request, name: str, **context: Any) -> Markup:
        template = self._context.services.templates.get_template(f"authkit/components/{name}.html")
        # The second SignIn on one page is `ak-sign-in-2`, and so are the ids inside it.
        base = "ak-" + name.replace("_", "-")
        used: set[str] = request.scope.setdefault("authkit.component_ids", set())
        instance = next(
            ident
            for n in range(1, 1000)
            if (ident := base if n == 1 else f"{base}-{n}") not in used
        )
        used.add(instance)
        html = template.render(
            {
                **base_context(request),
                "embedded": True,
                "component_id": component_ids(instance),
                **context,
            }
        )
        return Markup(html)  # noqa: S704 (rendered by our autoescaping environment)

    @staticmethod
    def _request(context: Context) -> Request:
        request = context.get("request")
        if not isinstance(request, Request):
            raise RuntimeError("authkit components need `request` in the template context")
        return request

    def _here(self, request: Request, redirect_url: str | None) -> str:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect_target(request, redirect_url or here)

    @pass_context
    def head(self, context: Context, nonce: str | None = None) -> Markup:
        """
        The stylesheet, theme and scripts; put it in the host page's `<head>`. A host
        whose CSP uses nonces passes this page's: `authkit.head(nonce=csp_nonce)`.
        """
        request = self._request(context)
        template = self._context.services.templates.get_template("authkit/elements/head.html")
        return Markup(template.render({**base_context(request), "csp_nonce": nonce}))  # noqa: S704

    @pass_context
    def csrf_input(self, context: Context) -> Markup:
        """A hidden `csrf_token` input for the host's own forms (check with `csrf_ok`)."""
        request = self._request(context)
        token = self._context.csrf.token(request.scope, cookies_of(request))
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)

    def token_url(self, name: str) -> str:
        """Where the page's script fetches a token of the JWT template `name`
        (`GET` answers `{"jwt": "..."}`).

        Raises:
            KeyError: no template has that name (a typo shows at once).
        """
        if name not in self._context.services.jwt_templates:
            raise KeyError(f"no JWT template {name!r}")
        return f"{self._context.services.mount_path}/tokens/{quote(name, safe='')}"

    @pass_context
    def sign_in(self, context: Context, redirect_url: str | None = None) -> Markup:
        """The SignIn component; nothing when the visitor is already signed in."""
        request = self._request(context)
        if auth(request).is_signed_in:
            return Markup("")
        form = SignInForm(data={"redirect_url": self._here(request, redirect_url)})
        return self._render(request, "sign_in", **sign_in_context(request, form))

    @pass_context
    def sign_up(self, context: Context, redirect_url: str | None = None) -> Markup:
        """The SignUp component; nothing when the visitor is already signed in."""
        request = self._request(context)
        if auth(request).is_signed_in:
            return Markup("")
        form = SignUpForm(data={"redirect_url": self._here(request, redirect_url)})
        return self._render(request, "sign_up", form=form)

    @pass_context
    def waitlist(self, context: Context) -> Markup:
        """The waitlist form (`AUTHKIT_SIGN_UP=waitlist`); nothing in another mode or for
        a signed-in visitor."""
        request = self._request(context)
        if auth(request).is_signed_in or self._context.services.settings.sign_up != "waitlist":
            return Markup("")
        return self._render(request, "waitlist", form=WaitlistForm(), joined=False)

    @pass_context
    def user_button(self, context: Context, user: User | None = None) -> Markup:
        """
        The UserButton (avatar and menu). It shows the user the endpoint loaded with
        `current_user(request)` (or passed here, or as `user` in the context): templates
        never query.
        """
        request = self._request(context)
        if not auth(request).is_signed_in:
            return Markup("")
        return self._render(request, "user_button", user=self._user(request, context, user))

    @pass_context
    def user_profile(
        self, context: Context, profile: Profile | None = None, section: str | None = None
    ) -> Markup:
        """
        The UserProfile component: the Account or the Security section with the tabs
        between them (links back to this page with `?ak_section=`). `profile` is what the
        endpoint loaded with `await load_profile(request)` (or `profile` in the context):
        templates never query.
        """
        request = self._request(context)
        found = profile if profile is not None else context.get("profile")
        if found is None:
            found = request.scope.get(PROFILE_KEY)
        if isinstance(found, User) or (found is None and isinstance(context.get("user"), User)):
            raise RuntimeError(
                "authkit.user_profile() shows the profile your endpoint loaded: call "
                "`profile = await load_profile(request)` and pass it to the template"
            )
        if not isinstance(found, Profile) or not auth(request).is_signed_in:
            return Markup("")
        chosen = section or request.query_params.get("ak_section", "account")
        if chosen == "security":
            return self._render(request, "user_security", **found.security)
        user = found.user
        form = ProfileForm(data={"first_name": user.first_name, "last_name": user.last_name})
        return self._render(request, "user_profile", form=form, **found.account)

    def _organizations(
        self, request: Request, context: Context, found: Any
    ) -> OrganizationList | None:
        """What the endpoint loaded; None when signed out or organizations are off."""
        if not self._context.services.settings.organizations:
            return None
        if found is None:
            found = context.get("orgs")
        if found is None:
            found = request.scope.get(ORGANIZATIONS_KEY)
        if (
            found is None
            and auth(request).is_signed_in
            and self._context.services.settings.organizations
        ):
            raise RuntimeError(
                "authkit's organization components show what your endpoint loaded: call "
                "`orgs = await load_organizations(request)` and pass it to the template"
            )
        return found if isinstance(found, OrganizationList) else None

    @pass_context
    def organization_switcher(
        self,
        context: Context,
        orgs: OrganizationList | None = None,
        redirect_url: str | None = None,
    ) -> Markup:
        """
        The OrganizationSwitcher: the active organization opening a menu to switch (back
        to `redirect_url`, this page by default), manage it, or create another. `orgs` is
        what the endpoint loaded with `await load_organizations(request)` (or `orgs` in
        the context). Nothing when signed out or organizations are off.
        """
        request = self._request(context)
        found = self._organizations(request, context, orgs)
        if found is None:
            return Markup("")
        return self._render(
            request,
            "organization_switcher",
            orgs=found,
            redirect_url=self._here(request, redirect_url),
        )

    @pass_context
    def organization_profile(
        self, context: Context, orgs: OrganizationList | None = None
    ) -> Markup:
        """
        The OrganizationProfile of the session's active organization (general, members,
        invitations, domains as the role allows); nothing for the personal account.
        """
        request = self._request(context)
        found = self._organizations(request, context, orgs)
        if (
            found is None
            or found.profile is None
            or not self._context.services.settings.organizations
        ):
            return Markup("")
        return self._render(
            request, "organization_profile", **found.profile, failed=None, values={}
        )

    @pass_context
    def create_organization(self, context: Context) -> Markup:
        """The CreateOrganization form (it posts to the sub-app's `/organizations/new`)."""
        request = self._request(context)
        if not auth(request).is_signed_in or not self._context.services.settings.organizations:
            return Markup("")
        return self._render(request, "create_organization", form=OrganizationForm())

    @staticmethod
    def _user(request: Request, context: Context, user: User | None) -> User | None:
        if user is not None:
            return user
        candidate = context.get("user")
        if isinstance(candidate, User):
            return candidate
        cached = request.scope.get(USER_KEY)
        return cached if isinstance(cached, User) else None
