"""`authkit users import`: users from Clerk, Django, Auth0 or a CSV file, with their
password hashes (upgraded to argon2id at each user's next sign-in)."""

from .readers import FORMATS, ImportRow, Unreadable, read_export
from .run import ImportReport, import_users

__all__ = ["FORMATS", "ImportReport", "ImportRow", "Unreadable", "import_users", "read_export"]
