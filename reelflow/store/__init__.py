"""Projects, users, uploads and tasks (SQLAlchemy: SQLite by default, PostgreSQL by URL)."""

from reelflow.store.inputs import ProjectInput, ProjectStyle, RenderSettings
from reelflow.store.schema import Project, ProjectBackground, Task, Upload, User
from reelflow.store.store import Store
from reelflow.store.uploads import display_name

__all__ = [
    "Project",
    "ProjectBackground",
    "ProjectInput",
    "ProjectStyle",
    "RenderSettings",
    "Store",
    "Task",
    "Upload",
    "User",
    "display_name",
]
