"""The demo site's pages, tested the way a host tests its own: with the
`signed_in_client`, `authkit_client`, `authkit_user` and `authkit_outbox` fixtures."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from authkit.testing import CapturedMail, TestUser


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_notes_need_a_session(authkit_client: TestClient) -> None:
    r = authkit_client.get("/notes")
    assert r.status_code == 303
    assert r.headers["location"] == "/auth/sign-in?redirect_url=%2Fnotes"


def test_a_signed_in_user_keeps_notes(signed_in_client: TestClient, authkit_user: TestUser) -> None:
    page = signed_in_client.get("/notes")
    assert page.status_code == 200, page.text
    assert authkit_user.email in page.text
    r = signed_in_client.post(
        "/notes", data={"csrf_token": csrf_token(page.text), "body": "<b>first</b> note"}
    )
    assert r.status_code == 303, r.text
    assert "&lt;b&gt;first&lt;/b&gt; note" in signed_in_client.get("/notes").text


def test_a_note_without_the_forms_token_is_refused(signed_in_client: TestClient) -> None:
    r = signed_in_client.post("/notes", data={"body": "no token"})
    assert r.status_code == 422 and "Your form expired" in r.text


def test_signing_up_with_the_mailed_code(
    authkit_client: TestClient, authkit_outbox: CapturedMail
) -> None:
    page = authkit_client.get("/auth/sign-up?redirect_url=%2Fnotes")
    r = authkit_client.post(
        "/auth/sign-up",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "new.person@example.com",
            "password": "a perfectly fine passphrase",
            "redirect_url": "/notes",
        },
    )
    assert r.status_code == 303, r.text
    verify = authkit_client.get(r.headers["location"])
    r = authkit_client.post(
        "/auth/sign-up/verify",
        data={
            "csrf_token": csrf_token(verify.text),
            "code": authkit_outbox.code_for("new.person@example.com"),
            "redirect_url": "/notes",
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/notes"
    assert "No notes yet" in authkit_client.get("/notes").text


def test_signing_out_ends_the_session(signed_in_client: TestClient) -> None:
    page = signed_in_client.get("/auth/user")
    r = signed_in_client.post("/auth/sign-out", data={"csrf_token": csrf_token(page.text)})
    assert r.status_code == 303, r.text
    assert signed_in_client.get("/notes").status_code == 303
