"""The progress log of an ingest in progress: which write regions are done.

A JSON-lines file inside the partial output store, one line per completed write
region with the CRC-32 of its pixels. What the run was asked (the inputs and the
output layout) is the staged output's record
(:func:`smlmscale.io.outputs.staged_output`), compared before a resume; this log
only says how far the run got, and every region it lists is re-read and verified
before it is trusted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

MANIFEST_NAME = ".smlmscale-ingest.jsonl"


@dataclass
class Manifest:
    """Completed regions of one ingest, appended to as they finish.

    Attributes
    ----------
    path : str
        The log file.
    done : dict
        Region index -> CRC-32 of the region's pixels.
    """

    path: str
    done: dict[int, int] = field(default_factory=dict)

    @classmethod
    def create(cls, store_path: str) -> "Manifest":
        """An empty log inside the store at ``store_path``."""
        path = os.path.join(store_path, MANIFEST_NAME)
        with open(path, "x", encoding="utf-8"):
            pass
        return cls(path=path)

    @classmethod
    def load(cls, store_path: str) -> "Manifest":
        """Read the log; a torn last line (a killed writer) ends it, a missing log is empty."""
        path = os.path.join(store_path, MANIFEST_NAME)
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:  # killed before the first region: nothing done yet
            return cls.create(store_path)
        done: dict[int, int] = {}
        for line in lines:
            try:
                record = json.loads(line)
                done[int(record["region"])] = int(record["crc32"])
            except (ValueError, KeyError, TypeError):
                break
        return cls(path=path, done=done)

    def record(self, region: int, crc32: int) -> None:
        """Append one completed region (flushed, so it survives the process being killed)."""
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"region": region, "crc32": crc32}) + "\n")
        self.done[region] = crc32

    def forget(self, regions: list[int]) -> None:
        """Drop regions that failed verification, rewriting the file."""
        for region in regions:
            self.done.pop(region, None)
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for region, crc in sorted(self.done.items()):
                fh.write(json.dumps({"region": region, "crc32": crc}) + "\n")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        os.remove(self.path)
