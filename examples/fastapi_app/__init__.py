"""
A small FastAPI API with authkit: the sub-app at /auth for signing in, and endpoints
that use `authkit.fastapi`'s dependencies. Run it with
`AUTHKIT_SECRET_KEY=$(authkit secret) uvicorn --factory fastapi_app:create_app`
from this folder (SQLite, tables made at start-up).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from authkit import AuthKit
from authkit.fastapi import CurrentUser, SignedIn, requires_reverification

__all__ = ["create_app"]


def create_app(kit: AuthKit | None = None) -> FastAPI:
    authkit = kit if kit is not None else AuthKit.from_env()
    app = FastAPI(title="Projects API")
    projects: dict[str, list[str]] = {}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"id": user.id, "email": user.email, "plan": user.public_metadata.get("plan")}

    @app.get("/projects")
    async def list_projects(session: SignedIn) -> list[str]:
        return projects.get(session.user_id or "", [])

    @app.post("/projects/{name}", status_code=201)
    async def add_project(name: str, session: SignedIn) -> dict[str, str]:
        projects.setdefault(session.user_id or "", []).append(name)
        return {"added": name}

    @app.delete("/projects", dependencies=[requires_reverification(max_age=300)])
    async def delete_all(session: SignedIn) -> dict[str, int]:
        removed = len(projects.pop(session.user_id or "", []))
        return {"removed": removed}

    app.mount("/auth", authkit)
    authkit.install(app)
    return app
