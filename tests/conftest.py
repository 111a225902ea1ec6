"""Where the shared, read-only data lives: ``../shared`` beside the clone (CI and dev)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RULESETS = SHARED / "rulesets"
TRACES = SHARED / "traces"
# The one capture libsinsp 2022 cannot read ("Is the file truncated?").
UNREADABLE = "curl_google_comments.scap"
READABLE_TRACES = sorted(p for p in TRACES.glob("*.scap") if p.name != UNREADABLE)
