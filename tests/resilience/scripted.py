"""Moved to tests/fakes/scripted.py (one set of fakes); this name stays importable."""

from tests.fakes.scripted import FOREVER, Recorded, Script, ScriptedUpstream

__all__ = ["FOREVER", "Recorded", "Script", "ScriptedUpstream"]
