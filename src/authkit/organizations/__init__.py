"""
Organizations: teams of users with roles and permissions, invitations by email, verified
domains, and the session's active organization (Clerk's model). The rules live in
`authkit.flows.organizations`; this package holds the parts every layer shares.
"""

from .roles import ADMIN, MEMBER, Role, Roles, load_roles

__all__ = ["ADMIN", "MEMBER", "Role", "Roles", "load_roles"]
