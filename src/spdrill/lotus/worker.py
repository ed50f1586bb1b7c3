"""Typed client for the lotus-worker API (``/rpc/v0``): identity, storage paths and task types."""

from __future__ import annotations

from spdrill.lotus.miner import parse_worker_info
from spdrill.lotus.rpc import ApiClient, Fields, bad_field
from spdrill.lotus.types import StoragePath, WorkerInfo

__all__ = ["WorkerClient"]


class WorkerClient(ApiClient):
    """The lotus-worker methods restore drills use (all need an admin token)."""

    api_path = "v0"

    def version(self) -> int:
        """``Filecoin.Version``: the worker API version number (major<<16|minor<<8|patch)."""
        raw = self.rpc.call("Version")
        if type(raw) is not int:
            raise bad_field("Filecoin.Version", "result", "an integer", raw)
        return raw

    def info(self) -> WorkerInfo:
        """``Filecoin.Info``: host name, CPUs, GPUs and memory of the worker."""
        return parse_worker_info("Filecoin.Info", self.rpc.call("Info"))

    def paths(self) -> tuple[StoragePath, ...]:
        """``Filecoin.Paths``: the worker's local storage paths."""
        m = "Filecoin.Paths"
        raw = self.rpc.call("Paths")
        if raw is None:
            return ()
        if type(raw) is not list:
            raise bad_field(m, "result", "a list", raw)
        out = []
        for i, item in enumerate(raw):
            f = Fields(m, item, f"result[{i}]")
            out.append(
                StoragePath(
                    f.string("ID"),
                    f.integer("Weight"),
                    f.string("LocalPath"),
                    f.boolean("CanSeal"),
                    f.boolean("CanStore"),
                )
            )
        return tuple(out)

    def enabled(self) -> bool:
        """``Filecoin.Enabled``: whether the worker takes tasks."""
        raw = self.rpc.call("Enabled")
        if type(raw) is not bool:
            raise bad_field("Filecoin.Enabled", "result", "true or false", raw)
        return raw

    def task_types(self) -> tuple[str, ...]:
        """``Filecoin.TaskTypes``: the task types the worker accepts, sorted (e.g. post/v0/windowproof)."""
        raw = self.rpc.call("TaskTypes")
        if raw is None:
            return ()
        if type(raw) is not dict:
            raise bad_field("Filecoin.TaskTypes", "result", "an object of task types", raw)
        return tuple(sorted(raw))
