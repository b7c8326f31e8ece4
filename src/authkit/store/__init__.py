"""The database: SQLModel tables, the async engine and the migrations."""
