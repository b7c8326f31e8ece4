"""The FastAPI example's endpoints, tested the way a host tests its own: with the
`signed_in_client`, `authkit_client`, `authkit_user` and `authkit_outbox` fixtures."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from authkit.testing import CapturedMail, TestUser

JSON = {"accept": "application/json"}


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_me_needs_a_session(authkit_client: TestClient) -> None:
    r = authkit_client.get("/me", headers=JSON)
    assert r.status_code == 401
    assert r.json() == {"detail": {"error": "unauthorized"}}


def test_me_answers_for_the_signed_in_user(
    signed_in_client: TestClient, authkit_user: TestUser
) -> None:
    r = signed_in_client.get("/me")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": authkit_user.id, "email": authkit_user.email, "plan": None}


def test_projects_are_kept_per_user(signed_in_client: TestClient) -> None:
    assert signed_in_client.get("/projects").json() == []
    assert signed_in_client.post("/projects/alpha").status_code == 201
    assert signed_in_client.get("/projects").json() == ["alpha"]
    # A fresh sign-in counts as recent: deleting needs no "Confirm it's you".
    assert signed_in_client.delete("/projects").json() == {"removed": 1}


def test_signing_in_through_the_pages(authkit_client: TestClient, authkit_user: TestUser) -> None:
    page = authkit_client.get("/auth/sign-in")
    r = authkit_client.post(
        "/auth/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": authkit_user.email,
            "password": authkit_user.password,
        },
    )
    assert r.status_code == 303, r.text
    assert authkit_client.get("/me").json()["email"] == authkit_user.email


def test_a_forgotten_password_is_mailed_a_code(
    authkit_client: TestClient, authkit_user: TestUser, authkit_outbox: CapturedMail
) -> None:
    page = authkit_client.get("/auth/forgot-password")
    r = authkit_client.post(
        "/auth/forgot-password",
        data={"csrf_token": csrf_token(page.text), "email": authkit_user.email},
    )
    assert r.status_code == 303, r.text
    message = authkit_outbox.last(authkit_user.email)
    assert "reset" in str(message["Subject"]).lower()
    assert len(authkit_outbox.code_for(authkit_user.email)) == 6
