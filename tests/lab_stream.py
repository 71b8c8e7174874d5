"""The lab's server-sent events as the tests read them: one GET, the whole stream, parsed."""

import json
import urllib.request


def read_events(url: str, timeout: float = 60) -> list[tuple[str, dict]]:
    """``(event name, data)`` for every event the stream at ``url`` sends, until it ends."""
    out, event = [], None
    with urllib.request.urlopen(url, timeout=timeout) as response:
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
    return out
