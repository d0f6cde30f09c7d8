"""The analysis of the capture being recorded, kept up to date on demand:
each call reads only what was recorded since the previous one. Shared by
take_snapshot(), the heap functions and the pytest plugin."""
import threading

from memscope import _memscope

_lock = threading.Lock()
_state = {"path": None, "capture": None}


def advanced():
    """The live analysis of the current capture, or None when not recording."""
    path = _memscope.recording()
    if path is None:
        return None
    _memscope.flush()
    with _lock:
        if _state["path"] != path:
            _state["path"], _state["capture"] = path, _memscope.Capture(path, follow=True)
        capture = _state["capture"]
        capture.advance()
        return capture
